use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, Default, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "contacts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub portal_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub hubspot_id: i64,
    pub email: Option<String>,
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    pub phone: Option<String>,
    /// The contact's free-text `company` property (not the associated company record).
    pub company_name: Option<String>,
    pub jobtitle: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    pub lifecyclestage: Option<String>,
    pub lead_status: Option<String>,
    pub hubspotscore: Option<i32>,
    pub owner_id: Option<i64>,
    pub last_contacted_at: Option<DateTimeUtc>,
    pub num_notes: Option<i32>,
    pub email_last_open_at: Option<DateTimeUtc>,
    pub email_last_click_at: Option<DateTimeUtc>,
    /// Lower-cased names, email, company, phone: what `search` matches.
    pub search_text: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub archived_at: Option<DateTimeUtc>,
    pub merged_into: Option<i64>,
    pub synced_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

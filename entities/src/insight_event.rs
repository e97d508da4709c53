use sea_orm::entity::prelude::*;

/// An insight raised or resolved, with what caused it; the cursor of `insightRaised` and `insightResolved`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "insight_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub portal_id: i64,
    pub insight_id: i64,
    /// `raised` or `resolved`.
    pub change: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub cause: Json,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! GraphQL object types over mirror rows, their `where` inputs and sort fields.

mod assoc;
pub(crate) mod campaign;
pub(crate) mod company;
pub(crate) mod contact;
pub(crate) mod deal;
mod macros;
pub(crate) mod owner;
pub(crate) mod pipeline;
pub(crate) mod relation;
pub(crate) mod ticket;

use async_graphql::{Interface, Json};

pub(crate) use assoc::associated;
pub(crate) use macros::{crm_object, mirror_object};

/// Where an object in an answer came from, and how fresh it is.
#[derive(async_graphql::SimpleObject)]
pub struct Meta {
    pub source: crate::upstream::Source,
    /// When the mirror last wrote the record.
    pub synced_at: chrono::DateTime<chrono::Utc>,
    /// HubSpot's `updatedAt` of the version answered.
    pub hubspot_updated_at: chrono::DateTime<chrono::Utc>,
}

/// Any object with a global ID.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "async_graphql::ID", desc = "Relay global ID"))]
pub enum Node {
    Contact(contact::Contact),
    Company(company::Company),
    Deal(deal::Deal),
    Ticket(ticket::Ticket),
    Owner(owner::Owner),
    Campaign(campaign::Campaign),
    Pipeline(pipeline::Pipeline),
    CustomObject(crate::custom_objects::CustomObject),
}

/// The future of a field that loads something, boxed. async-graphql boxes every selected field's future, each the
/// size of its type's largest field future; the loads inlined made every scalar field of a contact cost a 700-byte
/// allocation.
pub(crate) type Boxed<'a, T> = futures::future::BoxFuture<'a, T>;

/// A CRM record's `properties(names:)`, from the properties the mirror keeps beside its typed row.
pub(crate) fn load_properties<'a>(
    ctx: &'a async_graphql::Context<'_>,
    kind: &'static str,
    hubspot_id: i64,
    names: Option<Vec<String>>,
) -> Boxed<'a, crate::error::GqlResult<Json<serde_json::Value>>> {
    use crate::error::IntoGql;
    Box::pin(async move {
        let text = crate::scope::scope(ctx)
            .loaders
            .properties
            .load_one(crate::loaders::RecordKey { kind, id: hubspot_id })
            .await
            .gql()?;
        Ok(pick_properties(&parse_properties(text.as_deref().unwrap_or("{}")), names))
    })
}

/// The mirror keeps properties as JSON text; parsed only when a client asks for them.
pub(crate) fn parse_properties(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|err| {
        tracing::warn!(error = %err, "unreadable properties in the mirror");
        serde_json::Value::Object(Default::default())
    })
}

/// `properties(names:)`: every HubSpot property, or only the named ones (null where the record has none).
pub(crate) fn pick_properties(all: &serde_json::Value, names: Option<Vec<String>>) -> Json<serde_json::Value> {
    match names {
        None => Json(all.clone()),
        Some(names) => Json(
            names
                .into_iter()
                .map(|name| {
                    let value = all.get(&name).cloned().unwrap_or(serde_json::Value::Null);
                    (name, value)
                })
                .collect::<serde_json::Map<_, _>>()
                .into(),
        ),
    }
}

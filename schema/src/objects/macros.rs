//! The fields every mirrored object shares, written once.

/// An object type wrapping a mirror row with a `hubspot_id`: `id` (global) and `hubspotId`, then `$body`.
///
/// Its fields resolve one after the other (`serial`): they read the row or what `prefetch` already loaded, so
/// running them concurrently bought nothing and cost a task, a waker and a queue entry per field (a tenth of the
/// nested query's CPU). The objects of a list still resolve concurrently, so a field that does load (a single
/// object's associations) still batches with its siblings' loads.
macro_rules! mirror_object {
    ($(#[$doc:meta])* $ty:ident($model:ty), $name:literal, { $($body:tt)* }) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $ty(pub(crate) std::sync::Arc<$model>);

        #[async_graphql::Object(serial)]
        impl $ty {
            /// Relay global ID.
            pub async fn id(&self) -> async_graphql::ID {
                crate::ids::global_id($name, &self.0.hubspot_id)
            }

            /// The id HubSpot knows this record by.
            async fn hubspot_id(&self) -> async_graphql::ID {
                async_graphql::ID(self.0.hubspot_id.to_string())
            }

            $($body)*
        }
    };
}

/// A contact, company, deal or ticket: `mirror_object!` plus properties, timestamps and sync metadata.
macro_rules! crm_object {
    ($(#[$doc:meta])* $ty:ident($model:ty), $name:literal, { $($body:tt)* }) => {
        crate::objects::mirror_object!($(#[$doc])* $ty($model), $name, {
            /// Every HubSpot property as HubSpot sent it (strings or null), or only `names`; reaches custom properties.
            async fn properties(
                &self,
                ctx: &async_graphql::Context<'_>,
                names: Option<Vec<String>>,
            ) -> crate::error::GqlResult<async_graphql::Json<serde_json::Value>> {
                let kind = <$model as crate::prefetch::Row>::KIND;
                crate::objects::load_properties(ctx, kind, self.0.hubspot_id, names).await
            }

            /// One property, custom ones included, typed by the portal's definition of it (numbers as numbers, dates
            /// as dates, an enumeration with its option's label); an error naming `name` for a property the portal
            /// does not define.
            async fn property(
                &self,
                ctx: &async_graphql::Context<'_>,
                name: String,
            ) -> crate::error::GqlResult<crate::portal_properties::PropertyValue> {
                let kind = <$model as crate::prefetch::Row>::KIND;
                crate::portal_properties::property_of(ctx, kind, self.0.hubspot_id, &name).await
            }

            /// HubSpot's `createdAt`.
            async fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
                self.0.created_at
            }

            /// HubSpot's `updatedAt`.
            async fn updated_at(&self) -> chrono::DateTime<chrono::Utc> {
                self.0.updated_at
            }

            /// When HubSpot archived the record; null while it is live.
            async fn archived_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
                self.0.archived_at
            }

            /// The HubSpot id of the record this one was merged into.
            async fn merged_into(&self) -> Option<async_graphql::ID> {
                self.0.merged_into.map(|id| async_graphql::ID(id.to_string()))
            }

            /// When the mirror last wrote this record.
            async fn synced_at(&self) -> chrono::DateTime<chrono::Utc> {
                self.0.synced_at
            }

            /// The records of a custom object type (`objectTypeId`, name or fully qualified name) linked to this one.
            #[allow(clippy::too_many_arguments)]
            async fn custom_objects(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(name = "type")] type_name: String,
                #[graphql(desc = "Only the records linked with this association label.")] label: Option<String>,
                first: Option<i32>,
                after: Option<String>,
                last: Option<i32>,
                before: Option<String>,
            ) -> crate::error::GqlResult<crate::connection::AssocConn<crate::custom_objects::CustomObject>> {
                use crate::error::IntoGql;
                let kind = <$model as crate::prefetch::Row>::KIND;
                let args = crate::connection::PageArgs { first, after, last, before };
                crate::custom_objects::linked_to(ctx, (kind, self.0.hubspot_id), &type_name, label, args).await.gql()
            }

            /// Where this answer came from and how fresh it is.
            #[graphql(name = "_meta")]
            async fn meta(&self, ctx: &async_graphql::Context<'_>) -> crate::objects::Meta {
                let kind = <$model as crate::prefetch::Row>::KIND;
                crate::objects::Meta {
                    source: crate::scope::scope(ctx).source(kind, self.0.hubspot_id),
                    synced_at: self.0.synced_at,
                    hubspot_updated_at: self.0.updated_at,
                }
            }

            $($body)*
        });
    };
}

pub(crate) use {crm_object, mirror_object};

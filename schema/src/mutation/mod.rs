//! Writes through to HubSpot: create, update and archive contacts, companies, deals and tickets, and move a deal
//! to another stage. Inputs are checked first (a failed check names the field and HubSpot is not called); HubSpot's
//! answer is in the mirror before the mutation answers, so the next query sees the write. Each root field leaves
//! one row in the audit log once its outcome is known (`audit::Trail`).

mod associations;
mod batch;
mod custom;
mod inputs;
mod validate;

pub use associations::AssociationMutation;
pub use batch::BatchMutation;
pub use custom::CustomObjectMutation;

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use hubspot::ObjectType;

use inputs::{CompanyInput, ContactInput, DealInput, Fields, RecordInput, TicketInput};

use crate::{
    audit::Trail,
    error::{ApiError, GqlResult, IntoGql, Res},
    ids::numeric_key,
    objects::{company::Company, contact::Contact, deal::Deal, ticket::Ticket},
    records::Written,
    scope::{Scope, scope},
    upstream::{Link, NewRecord, Properties, Upstream},
};

fn upstream(scope: &Scope) -> Res<Arc<dyn Upstream>> {
    scope.hubspot()?.cloned().ok_or(ApiError::NoUpstream)
}

fn properties(fields: Fields) -> Properties {
    fields.into_iter().map(|(name, (value, _))| (name, value)).collect()
}

/// The live record `id` names, or an error naming `argument`.
async fn live<T: Written>(scope: &Scope, id: &ID, argument: &str) -> Res<(i64, T)> {
    let key = numeric_key(id, T::NAME, argument)?;
    match T::read(&scope.db, scope.portal_id, key).await? {
        Some(record) if !record.is_archived() => Ok((key, record)),
        _ => Err(ApiError::invalid(argument, format!("no live {} with id {key} in this portal", T::NAME))),
    }
}

/// The records a new one is linked to: global IDs of contacts, companies, deals or tickets the mirror holds.
async fn links(scope: &Scope, object_type: ObjectType, ids: &[ID]) -> Res<Vec<Link>> {
    let mut links = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let argument = format!("associateWith[{n}]");
        let (to_type, to_id, _) = associations::record(scope, id, &argument).await?;
        links.push(Link { to_id, kind: associations::default_kind(object_type, to_type, &argument)? });
    }
    Ok(links)
}

/// The longest idempotency key taken.
const MAX_KEY: usize = 255;

/// A record to create from `input`, once it passed its checks.
async fn prepare_create<T: Written>(scope: &Scope, input: &impl RecordInput, associate_with: &[ID]) -> Res<NewRecord> {
    let mut fields = input.fields()?;
    validate::default_pipeline(T::TYPE, &mut fields);
    validate::check(scope, T::TYPE, &fields, None).await?;
    let links = links(scope, T::TYPE, associate_with).await?;
    Ok(NewRecord { properties: properties(fields), links, idempotency_key: None })
}

/// The record `id` names and the properties to set on it, once `input` passed its checks.
async fn prepare_update<T: Written>(scope: &Scope, id: &ID, input: &impl RecordInput) -> Res<(i64, Properties)> {
    let (key, record) = live::<T>(scope, id, "id").await?;
    let fields = input.fields()?;
    if fields.is_empty() {
        return Err(ApiError::invalid("input", "names no property to change"));
    }
    validate::check(scope, T::TYPE, &fields, Some(&record.current())).await?;
    Ok((key, properties(fields)))
}

async fn create<T: Written>(
    ctx: &Context<'_>,
    input: &impl RecordInput,
    associate_with: Option<Vec<ID>>,
    idempotency_key: Option<String>,
) -> Res<T> {
    let scope = scope(ctx);
    let trail = Trail::start(ctx);
    let result = async {
        let mut new = prepare_create::<T>(scope, input, &associate_with.unwrap_or_default()).await?;
        if idempotency_key.as_ref().is_some_and(|k| k.is_empty() || k.len() > MAX_KEY) {
            return Err(ApiError::invalid("idempotencyKey", format!("must be 1 to {MAX_KEY} characters")));
        }
        new.idempotency_key = idempotency_key;
        let id = upstream(scope)?.create(scope.portal_id, T::TYPE, new).await?;
        trail.touch(T::TYPE.singular(), id);
        read_back(scope, id).await
    }
    .await;
    trail.finish(result).await
}

async fn update<T: Written>(ctx: &Context<'_>, id: &ID, input: &impl RecordInput) -> Res<T> {
    let scope = scope(ctx);
    let trail = Trail::start(ctx);
    let result = async {
        let (key, properties) = prepare_update::<T>(scope, id, input).await?;
        trail.touch(T::TYPE.singular(), key);
        upstream(scope)?.update(scope.portal_id, T::TYPE, key, properties).await?;
        read_back(scope, key).await
    }
    .await;
    trail.finish(result).await
}

async fn archive<T: Written>(ctx: &Context<'_>, id: &ID) -> Res<ID> {
    let scope = scope(ctx);
    let trail = Trail::start(ctx);
    let result = async {
        let (key, _) = live::<T>(scope, id, "id").await?;
        trail.touch(T::TYPE.singular(), key);
        upstream(scope)?.archive(scope.portal_id, T::TYPE, key).await?;
        Ok::<_, ApiError>(crate::ids::global_id(T::NAME, key))
    }
    .await;
    trail.finish(result).await
}

/// The record as the mirror holds it after the write.
async fn read_back<T: Written>(scope: &Scope, id: i64) -> Res<T> {
    T::read(&scope.db, scope.portal_id, id).await?.ok_or_else(|| {
        ApiError::Internal(Arc::new(sea_orm::DbErr::RecordNotFound(format!(
            "{} {id} was written to HubSpot but is not in the mirror",
            T::NAME
        ))))
    })
}

#[derive(Default)]
pub struct CrmMutation;

/// Each write goes to HubSpot first; the answer is the record as the mirror then holds it.
#[Object(guard = "crate::role::Needs(crate::role::Role::Writer)")]
impl CrmMutation {
    /// Creates a contact, linked to the records `associateWith` names (global IDs). A client that may retry sends
    /// an `idempotencyKey`: a create repeating one made with the key in the last 24 h answers the first record.
    async fn create_contact(
        &self,
        ctx: &Context<'_>,
        input: ContactInput,
        associate_with: Option<Vec<ID>>,
        idempotency_key: Option<String>,
    ) -> GqlResult<Contact> {
        create(ctx, &input, associate_with, idempotency_key).await.gql()
    }

    /// Sets the given properties of a contact.
    async fn update_contact(&self, ctx: &Context<'_>, id: ID, input: ContactInput) -> GqlResult<Contact> {
        update(ctx, &id, &input).await.gql()
    }

    /// Archives a contact (HubSpot's delete); its global ID.
    async fn archive_contact(&self, ctx: &Context<'_>, id: ID) -> GqlResult<ID> {
        archive::<Contact>(ctx, &id).await.gql()
    }

    async fn create_company(
        &self,
        ctx: &Context<'_>,
        input: CompanyInput,
        associate_with: Option<Vec<ID>>,
        idempotency_key: Option<String>,
    ) -> GqlResult<Company> {
        create(ctx, &input, associate_with, idempotency_key).await.gql()
    }

    async fn update_company(&self, ctx: &Context<'_>, id: ID, input: CompanyInput) -> GqlResult<Company> {
        update(ctx, &id, &input).await.gql()
    }

    async fn archive_company(&self, ctx: &Context<'_>, id: ID) -> GqlResult<ID> {
        archive::<Company>(ctx, &id).await.gql()
    }

    /// Creates a deal; `stage` is required and must belong to `pipeline` (`default` when left out).
    async fn create_deal(
        &self,
        ctx: &Context<'_>,
        input: DealInput,
        associate_with: Option<Vec<ID>>,
        idempotency_key: Option<String>,
    ) -> GqlResult<Deal> {
        create(ctx, &input, associate_with, idempotency_key).await.gql()
    }

    async fn update_deal(&self, ctx: &Context<'_>, id: ID, input: DealInput) -> GqlResult<Deal> {
        update(ctx, &id, &input).await.gql()
    }

    async fn archive_deal(&self, ctx: &Context<'_>, id: ID) -> GqlResult<ID> {
        archive::<Deal>(ctx, &id).await.gql()
    }

    /// Moves a deal to a stage of its pipeline.
    async fn move_deal_stage(&self, ctx: &Context<'_>, id: ID, stage: String) -> GqlResult<Deal> {
        let input = DealInput { stage: Some(stage), ..DealInput::default() };
        update(ctx, &id, &input)
            .await
            .map_err(|err| match err {
                // The input here is the `stage` argument.
                ApiError::InvalidArgument { argument, message } if argument == "input.stage" => {
                    ApiError::invalid("stage", message)
                }
                other => other,
            })
            .gql()
    }

    /// Creates a ticket; `stage` is required and must belong to `pipeline` (`0`, HubSpot's default, when left out).
    async fn create_ticket(
        &self,
        ctx: &Context<'_>,
        input: TicketInput,
        associate_with: Option<Vec<ID>>,
        idempotency_key: Option<String>,
    ) -> GqlResult<Ticket> {
        create(ctx, &input, associate_with, idempotency_key).await.gql()
    }

    async fn update_ticket(&self, ctx: &Context<'_>, id: ID, input: TicketInput) -> GqlResult<Ticket> {
        update(ctx, &id, &input).await.gql()
    }

    async fn archive_ticket(&self, ctx: &Context<'_>, id: ID) -> GqlResult<ID> {
        archive::<Ticket>(ctx, &id).await.gql()
    }
}

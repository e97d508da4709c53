//! Batch forms of the writes: up to 100 records a call, through HubSpot's batch endpoints. Each input is checked on
//! its own; one that fails its checks, or that HubSpot refuses (its 207), is reported in its place and the rest are
//! written. A failure of the call as a whole (HubSpot unreachable, say) fails the mutation: nothing was written.
//! Each call leaves one audit row: the records it named or made, and which inputs were not written and why.

use std::collections::HashSet;

use async_graphql::{Context, ID, InputObject, InputType, Object, OutputType, SimpleObject};
use futures::future::try_join_all;

use super::{
    inputs::{CompanyInput, ContactInput, DealInput, RecordInput, TicketInput},
    live, prepare_create, prepare_update, upstream,
};
use crate::{
    audit::Trail,
    error::{ApiError, GqlResult, IntoGql, Res},
    ids::global_id,
    objects::{company::Company, contact::Contact, deal::Deal, ticket::Ticket},
    records::Written,
    scope::{Scope, scope},
    upstream::{Answer, ItemAnswer, Properties, UpstreamError},
};

/// The most inputs a batch mutation takes: HubSpot's batch limit.
pub const MAX_BATCH: usize = 100;

/// A record to create in a batch: its properties and the records to link it to (global IDs).
#[derive(InputObject)]
#[graphql(
    concrete(name = "ContactCreate", params(ContactInput)),
    concrete(name = "CompanyCreate", params(CompanyInput)),
    concrete(name = "DealCreate", params(DealInput)),
    concrete(name = "TicketCreate", params(TicketInput))
)]
pub struct Create<I: InputType> {
    pub input: I,
    pub associate_with: Option<Vec<ID>>,
}

/// A record to change in a batch, and its properties to set.
#[derive(InputObject)]
#[graphql(
    concrete(name = "ContactUpdate", params(ContactInput)),
    concrete(name = "CompanyUpdate", params(CompanyInput)),
    concrete(name = "DealUpdate", params(DealInput)),
    concrete(name = "TicketUpdate", params(TicketInput))
)]
pub struct Update<I: InputType> {
    pub id: ID,
    pub input: I,
}

/// Why one input of a batch was not written.
#[derive(SimpleObject, Debug)]
pub struct ItemError {
    /// `BAD_USER_INPUT` (refused before HubSpot was called), `UPSTREAM_REJECTED` (HubSpot refused this input).
    pub code: &'static str,
    pub message: String,
    /// The input field at fault, as `inputs[3].input.email`.
    pub argument: Option<String>,
    /// HubSpot's `category` (`CONFLICT`, `OBJECT_NOT_FOUND`, `VALIDATION_ERROR`, …).
    pub category: Option<String>,
}

impl From<ApiError> for ItemError {
    fn from(err: ApiError) -> Self {
        let code = err.code();
        match err {
            ApiError::InvalidArgument { argument, message } => {
                Self { code, message, argument: Some(argument), category: None }
            }
            ApiError::Upstream(err) => {
                Self { code, message: err.message, argument: None, category: Some(err.category) }
            }
            other => Self { code, message: other.to_string(), argument: None, category: None },
        }
    }
}

/// One input's outcome, in input order.
#[derive(SimpleObject)]
#[graphql(
    concrete(name = "ContactBatchItem", params(Contact)),
    concrete(name = "CompanyBatchItem", params(Company)),
    concrete(name = "DealBatchItem", params(Deal)),
    concrete(name = "TicketBatchItem", params(Ticket)),
    concrete(name = "ArchiveBatchItem", params(ID))
)]
pub struct Item<T: OutputType> {
    /// The input's position in the list.
    pub index: i32,
    /// What was written (the record as the mirror now holds it, or an archived record's global ID); null when
    /// `error` says why not.
    pub record: Option<T>,
    pub error: Option<ItemError>,
}

fn check_size(n: usize) -> Res<()> {
    if n == 0 || n > MAX_BATCH {
        return Err(ApiError::invalid("inputs", format!("takes 1 to {MAX_BATCH} inputs, got {n}")));
    }
    Ok(())
}

/// Sends the inputs that passed their checks in one call, and lines every outcome up with its input.
async fn settle<P, R>(
    checked: Vec<Res<P>>,
    send: impl FnOnce(Vec<P>) -> Answer<Vec<ItemAnswer<R>>>,
) -> Res<Vec<Result<R, ApiError>>> {
    let (mut positions, mut payloads, mut outcomes) = (Vec::new(), Vec::new(), Vec::new());
    for (n, check) in checked.into_iter().enumerate() {
        match check {
            Ok(payload) => {
                positions.push(n);
                payloads.push(payload);
                outcomes.push(None);
            }
            Err(err) => outcomes.push(Some(Err(err))),
        }
    }
    if !payloads.is_empty() {
        let answers = send(payloads).await?;
        for (n, answer) in positions.into_iter().zip(answers) {
            outcomes[n] = Some(answer.map_err(ApiError::Upstream));
        }
    }
    Ok(outcomes
        .into_iter()
        .map(|outcome| outcome.unwrap_or_else(|| Err(ApiError::Upstream(UpstreamError::no_answer()))))
        .collect())
}

/// Each outcome as an item, the written records read back from the mirror.
async fn items<T: Written + OutputType>(scope: &Scope, outcomes: Vec<Result<i64, ApiError>>) -> Res<Vec<Item<T>>> {
    let read = outcomes.into_iter().enumerate().map(|(n, outcome)| async move {
        let index = n as i32;
        Ok::<_, ApiError>(match outcome {
            Ok(id) => Item { index, record: Some(super::read_back::<T>(scope, id).await?), error: None },
            Err(err) => Item { index, record: None, error: Some(err.into()) },
        })
    });
    try_join_all(read).await
}

async fn create_many<T: Written + OutputType, I: RecordInput + InputType>(
    ctx: &Context<'_>,
    inputs: Vec<Create<I>>,
) -> Res<Vec<Item<T>>> {
    let scope = scope(ctx);
    let trail = Trail::start(ctx);
    let result = async {
        check_size(inputs.len())?;
        let mut checked = Vec::with_capacity(inputs.len());
        for (n, create) in inputs.iter().enumerate() {
            let links = create.associate_with.as_deref().unwrap_or_default();
            let check = prepare_create::<T>(scope, &create.input, links).await;
            checked.push(check.map_err(|e| e.within(&format!("inputs[{n}]"))));
        }
        let upstream = upstream(scope)?;
        let outcomes = settle(checked, |new| upstream.create_many(scope.portal_id, T::TYPE, new)).await?;
        for id in outcomes.iter().flatten() {
            trail.touch(T::TYPE.singular(), id);
        }
        trail.items(&outcomes);
        items(scope, outcomes).await
    }
    .await;
    trail.finish(result).await
}

async fn update_many<T: Written + OutputType, I: RecordInput + InputType>(
    ctx: &Context<'_>,
    inputs: Vec<Update<I>>,
) -> Res<Vec<Item<T>>> {
    let scope = scope(ctx);
    let trail = Trail::start(ctx);
    let result = async {
        check_size(inputs.len())?;
        let mut checked = Vec::with_capacity(inputs.len());
        let mut seen = HashSet::new();
        for (n, update) in inputs.iter().enumerate() {
            let check = match prepare_update::<T>(scope, &update.id, &update.input).await {
                // HubSpot refuses a batch that names a record twice.
                Ok((id, _)) if !seen.insert(id) => {
                    Err(ApiError::invalid("id", "names a record an earlier input names"))
                }
                other => other,
            };
            if let Ok((id, _)) = &check {
                trail.touch(T::TYPE.singular(), id);
            }
            checked.push(check.map_err(|e| e.within(&format!("inputs[{n}]"))));
        }
        let upstream = upstream(scope)?;
        let update = |changes: Vec<(i64, Properties)>| -> Answer<Vec<ItemAnswer<i64>>> {
            let ids: Vec<i64> = changes.iter().map(|(id, _)| *id).collect();
            let answer = upstream.update_many(scope.portal_id, T::TYPE, changes);
            Box::pin(async move { Ok(answer.await?.into_iter().zip(ids).map(|(a, id)| a.map(|()| id)).collect()) })
        };
        let outcomes = settle(checked, update).await?;
        trail.items(&outcomes);
        items(scope, outcomes).await
    }
    .await;
    trail.finish(result).await
}

async fn archive_many<T: Written>(ctx: &Context<'_>, ids: Vec<ID>) -> Res<Vec<Item<ID>>> {
    let scope = scope(ctx);
    let trail = Trail::start(ctx);
    let result = async {
        check_size(ids.len())?;
        let mut checked = Vec::with_capacity(ids.len());
        for (n, id) in ids.iter().enumerate() {
            let check = live::<T>(scope, id, &format!("ids[{n}]")).await.map(|(key, _)| key);
            if let Ok(key) = &check {
                trail.touch(T::TYPE.singular(), key);
            }
            checked.push(check);
        }
        let upstream = upstream(scope)?;
        let archive = |keys: Vec<i64>| -> Answer<Vec<ItemAnswer<i64>>> {
            let answer = upstream.archive_many(scope.portal_id, T::TYPE, keys.clone());
            Box::pin(async move { answer.await.map(|()| keys.into_iter().map(Ok).collect()) })
        };
        let outcomes = settle(checked, archive).await?;
        trail.items(&outcomes);
        Ok::<_, ApiError>(
            outcomes
                .into_iter()
                .enumerate()
                .map(|(n, outcome)| match outcome {
                    Ok(key) => Item { index: n as i32, record: Some(global_id(T::NAME, key)), error: None },
                    Err(err) => Item { index: n as i32, record: None, error: Some(err.into()) },
                })
                .collect(),
        )
    }
    .await;
    trail.finish(result).await
}

#[derive(Default)]
pub struct BatchMutation;

/// Up to 100 records a call. The answer has one item per input, in order: the record written, or why not.
#[Object(guard = "crate::role::Needs(crate::role::Role::Writer)")]
impl BatchMutation {
    /// Creates up to 100 contacts in one HubSpot call; one item per input, in order: the contact, or why not.
    async fn create_contacts(
        &self,
        ctx: &Context<'_>,
        inputs: Vec<Create<ContactInput>>,
    ) -> GqlResult<Vec<Item<Contact>>> {
        create_many(ctx, inputs).await.gql()
    }

    /// Sets properties of up to 100 distinct contacts in one HubSpot call.
    async fn update_contacts(
        &self,
        ctx: &Context<'_>,
        inputs: Vec<Update<ContactInput>>,
    ) -> GqlResult<Vec<Item<Contact>>> {
        update_many(ctx, inputs).await.gql()
    }

    /// Archives up to 100 contacts in one HubSpot call.
    async fn archive_contacts(&self, ctx: &Context<'_>, ids: Vec<ID>) -> GqlResult<Vec<Item<ID>>> {
        archive_many::<Contact>(ctx, ids).await.gql()
    }

    async fn create_companies(
        &self,
        ctx: &Context<'_>,
        inputs: Vec<Create<CompanyInput>>,
    ) -> GqlResult<Vec<Item<Company>>> {
        create_many(ctx, inputs).await.gql()
    }

    async fn update_companies(
        &self,
        ctx: &Context<'_>,
        inputs: Vec<Update<CompanyInput>>,
    ) -> GqlResult<Vec<Item<Company>>> {
        update_many(ctx, inputs).await.gql()
    }

    async fn archive_companies(&self, ctx: &Context<'_>, ids: Vec<ID>) -> GqlResult<Vec<Item<ID>>> {
        archive_many::<Company>(ctx, ids).await.gql()
    }

    async fn create_deals(&self, ctx: &Context<'_>, inputs: Vec<Create<DealInput>>) -> GqlResult<Vec<Item<Deal>>> {
        create_many(ctx, inputs).await.gql()
    }

    async fn update_deals(&self, ctx: &Context<'_>, inputs: Vec<Update<DealInput>>) -> GqlResult<Vec<Item<Deal>>> {
        update_many(ctx, inputs).await.gql()
    }

    async fn archive_deals(&self, ctx: &Context<'_>, ids: Vec<ID>) -> GqlResult<Vec<Item<ID>>> {
        archive_many::<Deal>(ctx, ids).await.gql()
    }

    async fn create_tickets(
        &self,
        ctx: &Context<'_>,
        inputs: Vec<Create<TicketInput>>,
    ) -> GqlResult<Vec<Item<Ticket>>> {
        create_many(ctx, inputs).await.gql()
    }

    async fn update_tickets(
        &self,
        ctx: &Context<'_>,
        inputs: Vec<Update<TicketInput>>,
    ) -> GqlResult<Vec<Item<Ticket>>> {
        update_many(ctx, inputs).await.gql()
    }

    async fn archive_tickets(&self, ctx: &Context<'_>, ids: Vec<ID>) -> GqlResult<Vec<Item<ID>>> {
        archive_many::<Ticket>(ctx, ids).await.gql()
    }
}

//! The Query root: single objects, Relay `node`, filtered lists as connections, and analytics.

use std::sync::Arc;

use async_graphql::{Context, ID, InputType, Object};
use entities::{campaign, company, contact, deal, owner, pipeline, ticket};
use sea_orm::{
    ColumnTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Alias, Condition, Expr, ExprTrait, Func, Query, SelectStatement, SimpleExpr},
};

use crate::{
    columns::{Read, Wanted},
    connection::{Conn, Page, PageArgs, keyset_page},
    error::{ApiError, GqlResult, IntoGql, Res},
    filter::{TableRef, balanced, like, like_escape, no_nul},
    ids::{decode_global, hubspot_key, numeric_key},
    objects::{
        Node,
        campaign::{Campaign, CampaignOrderField, CampaignWhere},
        company::{Company, CompanyOrderField, CompanyWhere},
        contact::{Contact, ContactOrderField, ContactWhere},
        deal::{Deal, DealOrderField, DealWhere},
        owner::{Owner, OwnerOrderField, OwnerWhere},
        pipeline::Pipeline,
        relation::Where,
        ticket::{Ticket, TicketOrderField, TicketWhere},
    },
    order::{CrmOrderBy, OrderBy, SortField, crm_sort_keys, sort_keys},
    prefetch::{Row, load_now, node_fields, prefetch, prime},
    records::{Written, from_hubspot},
    scope::scope,
};

/// The longest `search` accepted.
const MAX_SEARCH_CHARS: usize = 200;

/// Objects and lists; merged with the analytics into the Query root.
#[derive(Default)]
pub struct CoreQuery;

/// The words of a `search`, lower-cased; each must appear in the record.
fn search_words(search: &str) -> Res<Vec<String>> {
    if search.chars().count() > MAX_SEARCH_CHARS {
        return Err(ApiError::invalid("search", format!("at most {MAX_SEARCH_CHARS} characters")));
    }
    no_nul([search], "search")?;
    Ok(search.split_whitespace().map(str::to_lowercase).collect())
}

/// Whether `search` on `W` on this backend reads the Postgres search table (migration `m20261206_000009`): the
/// trigram-indexed `search_text` of the table's live records.
fn in_search_table<W: Where>(backend: DbBackend) -> bool {
    backend == DbBackend::Postgres && W::SEARCH == ["search_text"]
}

/// The live records of `W::TABLE` in the portal whose search text holds every word, from the Postgres search table;
/// the caller picks what to select.
fn search_table_matches<W: Where>(portal_id: i64, words: &[String]) -> SelectStatement {
    let mut select = Query::select();
    select.from(Alias::new(format!("{}_search", W::TABLE))).and_where(Expr::col(Alias::new("portal_id")).eq(portal_id));
    for word in words {
        select.and_where(like(Expr::col(Alias::new("search_text")), format!("%{}%", like_escape(word))));
    }
    select
}

/// Every word must appear (case-insensitively) in one of the type's searchable columns.
fn search_condition<W: Where>(table: &TableRef, words: &[String], backend: DbBackend) -> Condition {
    let mut cond = Condition::all();
    if in_search_table::<W>(backend) {
        if !words.is_empty() {
            let mut matches = search_table_matches::<W>(table.portal_id, words);
            matches.columns(["portal_id", "hubspot_id"].map(Alias::new));
            let key = Expr::tuple([table.col("portal_id"), table.col("hubspot_id")]);
            cond = cond.add(key.in_subquery(matches));
        }
        return cond;
    }
    // Up to 100 words: a balanced tree, not a chain of 100 (see `balanced`).
    let mut parts = Vec::with_capacity(words.len());
    for word in words {
        if backend == DbBackend::Sqlite && W::SEARCH == ["search_text"] && word.chars().count() >= 3 {
            // SQLite's FTS5 trigram index (a phrase of three characters or more matches as a substring).
            let phrase = format!("\"{}\"", word.replace('"', "\"\""));
            let sql = format!("{0}.rowid IN (SELECT rowid FROM {0}_search WHERE {0}_search MATCH ?)", W::TABLE);
            parts.push(Expr::cust_with_values(sql, [phrase]).into());
            continue;
        }
        let pattern = format!("%{}%", like_escape(word));
        let mut any = Condition::any();
        for column in W::SEARCH {
            let col = if *column == "search_text" {
                table.col(column)
            } else {
                SimpleExpr::from(Func::lower(table.col(column)))
            };
            any = any.add(like(col, pattern.clone()));
        }
        parts.push(any);
    }
    balanced(parts, false)
}

/// How a list is sorted: by fields (`orderBy`), or for CRM records by fields and properties.
enum Sort<F: InputType> {
    Fields(Option<Vec<OrderBy<F>>>),
    Crm(Option<Vec<CrmOrderBy<F>>>),
}

/// A page of live rows of `W::TABLE` in the request's portal, read as `read` says.
async fn list<E: EntityTrait, W: Where, F: SortField>(
    ctx: &Context<'_>,
    filter: Option<W>,
    order_by: Sort<F>,
    search: Option<String>,
    args: PageArgs,
    read: Read<E>,
) -> Res<Page<Arc<E::Model>>> {
    let scope = scope(ctx);
    let backend = scope.db.get_database_backend();
    let mut table = TableRef::new(W::TABLE, scope.portal_id, backend);
    let by_property = matches!(&order_by, Sort::Crm(Some(keys)) if keys.iter().any(|k| k.property.is_some()));
    if filter.is_some() || by_property {
        // `properties` filters and property sort keys read values by their definitions.
        table.definitions = scope.definitions().await?;
    }
    let mut cond =
        Condition::all().add(table.col("portal_id").eq(scope.portal_id)).add(table.col("archived_at").is_null());
    let filtered = filter.is_some();
    if let Some(filter) = filter {
        cond = cond.add(filter.condition(&table, 0)?);
    }
    let words = search.as_deref().map(search_words).transpose()?.unwrap_or_default();
    cond = cond.add(search_condition::<W>(&table, &words, backend));
    let sort = match order_by {
        Sort::Fields(order_by) => sort_keys(order_by.as_deref().unwrap_or_default(), ("hubspot_id", false)),
        Sort::Crm(order_by) => crm_sort_keys(order_by.as_deref().unwrap_or_default(), &table, W::KIND)?,
    };
    let page = keyset_page::<E>(&scope.db, cond, &sort, &args, read).await?;
    if !filtered && !words.is_empty() && in_search_table::<W>(backend) {
        // Narrowed by the search alone, the matches are counted in the search table, which holds only live
        // records: counted through the records' table, each match cost a probe of it (3 times as long for a
        // common name).
        let mut matches = search_table_matches::<W>(scope.portal_id, &words);
        matches.expr_as(Expr::cust("1"), Alias::new("one"));
        return Ok(page.counted_by(&scope.db, matches));
    }
    Ok(page)
}

/// A page of CRM records reading only the columns the request reads, with what their selection needs below them
/// prefetched.
async fn crm_list<E: EntityTrait, W: Where, F: SortField>(
    ctx: &Context<'_>,
    filter: Option<W>,
    order_by: Option<Vec<CrmOrderBy<F>>>,
    search: Option<String>,
    args: PageArgs,
) -> Res<Page<Arc<E::Model>>>
where
    E::Model: Row + Default,
{
    let wanted = Wanted::of(ctx);
    let page = list::<E, W, F>(ctx, filter, Sort::Crm(order_by), search, args, Read::wanted(&wanted)).await?;
    prefetch(ctx, &wanted, page.models(), node_fields(&ctx.field())).await?;
    Ok(page)
}

#[Object]
impl CoreQuery {
    /// Any object by its global ID.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Node>> {
        let Some((type_name, _)) = decode_global(&id) else {
            return Err(ApiError::invalid("id", "not a global ID")).gql();
        };
        Ok(match type_name.as_str() {
            "Contact" => record_by_id::<Contact>(ctx, &id, false).await?.map(Node::Contact),
            "Company" => record_by_id::<Company>(ctx, &id, false).await?.map(Node::Company),
            "Deal" => record_by_id::<Deal>(ctx, &id, false).await?.map(Node::Deal),
            "Ticket" => record_by_id::<Ticket>(ctx, &id, false).await?.map(Node::Ticket),
            "Owner" => owner_by_id(ctx, &id).await?.map(Node::Owner),
            "Campaign" => campaign_by_id(ctx, &id).await?.map(Node::Campaign),
            "Pipeline" => pipeline_by_id(ctx, &id).await?.map(Node::Pipeline),
            crate::custom_objects::NAME => {
                let scope = scope(ctx);
                let (object_type, key) = crate::custom_objects::custom_key(scope, &id, None, "id").await.gql()?;
                crate::custom_objects::read(scope, object_type, key).await.gql()?.map(Node::CustomObject)
            }
            _ => None,
        })
    }

    /// A contact by HubSpot id or global ID: the mirror's, or HubSpot's when the mirror does not hold it yet or
    /// `fresh` asks for HubSpot's (through the read cache, so at most its TTL old); null when neither has it.
    /// `_meta` says where the answer came from.
    async fn contact(&self, ctx: &Context<'_>, id: ID, fresh: Option<bool>) -> GqlResult<Option<Contact>> {
        record_by_id(ctx, &id, fresh.unwrap_or(false)).await
    }

    /// A company by id, as `contact` finds one.
    async fn company(&self, ctx: &Context<'_>, id: ID, fresh: Option<bool>) -> GqlResult<Option<Company>> {
        record_by_id(ctx, &id, fresh.unwrap_or(false)).await
    }

    /// A deal by id, as `contact` finds one.
    async fn deal(&self, ctx: &Context<'_>, id: ID, fresh: Option<bool>) -> GqlResult<Option<Deal>> {
        record_by_id(ctx, &id, fresh.unwrap_or(false)).await
    }

    /// A ticket by id, as `contact` finds one.
    async fn ticket(&self, ctx: &Context<'_>, id: ID, fresh: Option<bool>) -> GqlResult<Option<Ticket>> {
        record_by_id(ctx, &id, fresh.unwrap_or(false)).await
    }

    async fn owner(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Owner>> {
        owner_by_id(ctx, &id).await
    }

    async fn campaign(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Campaign>> {
        campaign_by_id(ctx, &id).await
    }

    /// A deal or ticket pipeline by id (`default`, …) or global ID.
    async fn pipeline(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Pipeline>> {
        pipeline_by_id(ctx, &id).await
    }

    /// The portal's pipelines, of deals or tickets or both, in display order.
    async fn pipelines(&self, ctx: &Context<'_>, object_type: Option<String>) -> GqlResult<Vec<Pipeline>> {
        let scope = scope(ctx);
        let mut select = pipeline::Entity::find()
            .filter(pipeline::Column::PortalId.eq(scope.portal_id))
            .filter(pipeline::Column::ArchivedAt.is_null());
        if let Some(object_type) = object_type {
            select = select.filter(pipeline::Column::ObjectType.eq(object_type));
        }
        let rows = select
            .order_by_asc(pipeline::Column::ObjectType)
            .order_by_asc(pipeline::Column::DisplayOrder)
            .all(&scope.db)
            .await;
        let pipelines: Vec<Pipeline> =
            rows.map_err(ApiError::from).gql()?.into_iter().map(|row| Pipeline(Arc::new(row))).collect();
        stages_of(ctx, &pipelines).await.gql()?;
        Ok(pipelines)
    }

    /// Contacts as a connection: filter with `where`, sort with `orderBy`, match words with `search` (names, email,
    /// company, phone).
    #[allow(clippy::too_many_arguments)]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "where")] filter: Option<ContactWhere>,
        order_by: Option<Vec<CrmOrderBy<ContactOrderField>>>,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<Conn<Contact>> {
        let args = PageArgs { first, after, last, before };
        let page = crm_list::<contact::Entity, _, _>(ctx, filter, order_by, search, args).await.gql()?;
        Ok(page.into_connection(Contact))
    }

    /// Companies as a connection; `search` matches name and domain.
    #[allow(clippy::too_many_arguments)]
    async fn companies(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "where")] filter: Option<CompanyWhere>,
        order_by: Option<Vec<CrmOrderBy<CompanyOrderField>>>,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<Conn<Company>> {
        let args = PageArgs { first, after, last, before };
        let page = crm_list::<company::Entity, _, _>(ctx, filter, order_by, search, args).await.gql()?;
        Ok(page.into_connection(Company))
    }

    /// Deals as a connection; `search` matches the deal name.
    #[allow(clippy::too_many_arguments)]
    async fn deals(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "where")] filter: Option<DealWhere>,
        order_by: Option<Vec<CrmOrderBy<DealOrderField>>>,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<Conn<Deal>> {
        let args = PageArgs { first, after, last, before };
        let page = crm_list::<deal::Entity, _, _>(ctx, filter, order_by, search, args).await.gql()?;
        Ok(page.into_connection(Deal))
    }

    /// Tickets as a connection; `search` matches the subject.
    #[allow(clippy::too_many_arguments)]
    async fn tickets(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "where")] filter: Option<TicketWhere>,
        order_by: Option<Vec<CrmOrderBy<TicketOrderField>>>,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<Conn<Ticket>> {
        let args = PageArgs { first, after, last, before };
        let page = crm_list::<ticket::Entity, _, _>(ctx, filter, order_by, search, args).await.gql()?;
        Ok(page.into_connection(Ticket))
    }

    /// Owners as a connection; `search` matches names and email.
    #[allow(clippy::too_many_arguments)]
    async fn owners(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "where")] filter: Option<OwnerWhere>,
        order_by: Option<Vec<OrderBy<OwnerOrderField>>>,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<Conn<Owner>> {
        let args = PageArgs { first, after, last, before };
        let page = list::<owner::Entity, _, _>(ctx, filter, Sort::Fields(order_by), search, args, Read::Whole).await;
        page.map(|p| p.into_connection(Owner)).gql()
    }

    /// Marketing campaigns as a connection; `search` matches the name.
    #[allow(clippy::too_many_arguments)]
    async fn campaigns(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "where")] filter: Option<CampaignWhere>,
        order_by: Option<Vec<OrderBy<CampaignOrderField>>>,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<Conn<Campaign>> {
        let args = PageArgs { first, after, last, before };
        let page = list::<campaign::Entity, _, _>(ctx, filter, Sort::Fields(order_by), search, args, Read::Whole).await;
        page.map(|p| p.into_connection(Campaign)).gql()
    }
}

/// A contact, company, deal or ticket by id: the mirror's, or HubSpot's when the mirror lacks it or `fresh` asks
/// for HubSpot (through the read cache).
async fn record_by_id<T: Written>(ctx: &Context<'_>, id: &ID, fresh: bool) -> GqlResult<Option<T>> {
    let key = numeric_key(id, T::NAME, "id").gql()?;
    let scope = scope(ctx);
    let mirrored = if fresh { None } else { T::mirrored_now(scope, key).await.gql()? };
    let row = match mirrored {
        Some(row) => row,
        None => match from_hubspot::<T>(scope, key).await.gql()? {
            Some(record) => record.row(),
            // Asked fresh, and HubSpot holds no live record: what the mirror has, if anything.
            None if fresh => match T::mirrored_now(scope, key).await.gql()? {
                Some(row) => row,
                None => return Ok(None),
            },
            None => return Ok(None),
        },
    };
    prefetch(ctx, &Wanted::of(ctx), vec![row.clone()], ctx.field().selection_set().collect()).await.gql()?;
    Ok(Some(T::wrap(row)))
}

async fn owner_by_id(ctx: &Context<'_>, id: &ID) -> GqlResult<Option<Owner>> {
    let key = numeric_key(id, "Owner", "id").gql()?;
    load_now(&scope(ctx).loaders.owners, key).await.map(|r| r.map(Owner)).gql()
}

async fn campaign_by_id(ctx: &Context<'_>, id: &ID) -> GqlResult<Option<Campaign>> {
    let key = hubspot_key(id, "Campaign", "id").gql()?;
    load_now(&scope(ctx).loaders.campaigns, key).await.map(|r| r.map(Campaign)).gql()
}

async fn pipeline_by_id(ctx: &Context<'_>, id: &ID) -> GqlResult<Option<Pipeline>> {
    let key = hubspot_key(id, "Pipeline", "id").gql()?;
    let pipeline = load_now(&scope(ctx).loaders.pipelines, key).await.gql()?.map(Pipeline);
    stages_of(ctx, pipeline.as_slice()).await.gql()?;
    Ok(pipeline)
}

/// The stages of `pipelines` in one statement, when the field's selection reads them: their resolvers then find
/// them in the request's cache instead of waiting out the DataLoader's batching window.
async fn stages_of(ctx: &Context<'_>, pipelines: &[Pipeline]) -> Res<()> {
    if pipelines.is_empty() || !ctx.field().selection_set().any(|f| f.name() == "stages") {
        return Ok(());
    }
    let ids = pipelines.iter().map(|p| p.0.hubspot_id.clone()).collect();
    prime(&scope(ctx).loaders.stages, ids).await.map(drop)
}

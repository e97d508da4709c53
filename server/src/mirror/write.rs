//! Upserts into the mirror, in chunks that fit every backend's limit on bound parameters.

use chrono::{DateTime, Utc};
use entities::{
    association, campaign, company, contact, custom_object, deal, object_properties, owner, pipeline, pipeline_stage,
    portal, ticket,
};
use hubspot::{Association, Campaign, CrmObject, ObjectType, Owner, Pipeline, Portal};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, IdenStatic, Iterable, QuerySelect,
    sea_query::{Alias, Expr, ExprTrait, OnConflict},
};

use super::convert;

/// Rows per INSERT: SQLite binds at most 32,766 values a statement, and the widest table has under 30 columns.
pub(super) const CHUNK: usize = 1000;

/// Inserts rows, or updates those already mirrored; with `newer_only`, a row whose `updated_at` is older than the
/// mirrored one leaves it untouched.
pub(super) async fn upsert<E, A>(
    db: &impl ConnectionTrait,
    rows: Vec<A>,
    keys: &[E::Column],
    newer_only: bool,
) -> Result<(), DbErr>
where
    E: EntityTrait,
    A: ActiveModelTrait<Entity = E> + Send,
{
    upsert_keeping(db, rows, keys, newer_only, &[]).await
}

/// [`upsert`], leaving the `kept` columns of a mirrored row as they are.
async fn upsert_keeping<E, A>(
    db: &impl ConnectionTrait,
    rows: Vec<A>,
    keys: &[E::Column],
    newer_only: bool,
    kept: &[&str],
) -> Result<(), DbErr>
where
    E: EntityTrait,
    A: ActiveModelTrait<Entity = E> + Send,
{
    let key_names: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
    let updates: Vec<E::Column> =
        E::Column::iter().filter(|c| !key_names.contains(&c.as_str()) && !kept.contains(&c.as_str())).collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(CHUNK).collect();
        let mut on_conflict = OnConflict::columns(keys.iter().copied());
        on_conflict.update_columns(updates.iter().copied());
        if newer_only {
            let table = Alias::new(E::default().table_name());
            on_conflict.action_and_where(
                Expr::col((Alias::new("excluded"), Alias::new("updated_at")))
                    .gte(Expr::col((table, Alias::new("updated_at")))),
            );
        }
        E::insert_many(chunk).on_conflict(on_conflict).exec_without_returning(db).await?;
    }
    Ok(())
}

/// Records read from HubSpot, merged per property into the versions the mirror holds (see [`super::merge`]): typed
/// rows and, beside them, the properties. A read older than the version held changes nothing.
pub async fn upsert_objects(
    db: &impl ConnectionTrait,
    portal_id: i64,
    object_type: ObjectType,
    objects: &[CrmObject],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let ids: Vec<i64> = objects.iter().map(|o| o.id).collect();
    let held = held_properties(db, portal_id, object_type, &ids).await?;
    let (mut merged, mut rows) = (Vec::with_capacity(objects.len()), Vec::with_capacity(objects.len()));
    for object in objects {
        let Some((object, times)) = super::merge::merge(held.get(&object.id), object) else { continue };
        let mut row = convert::properties(portal_id, object_type, &object);
        row.property_times = Set(times);
        rows.push(row);
        merged.push(object);
    }
    upsert_typed(db, portal_id, object_type, &merged, now, Lifecycle::Written).await?;
    use object_properties::Column as P;
    upsert(db, rows, &[P::PortalId, P::ObjectType, P::HubspotId], true).await
}

/// The property rows the mirror holds for `ids`, by id. On Postgres they stay locked until the transaction ends, so
/// replicas writing the same record take turns and neither merges over the other's newer value; rows are locked in
/// id order, so two replicas never wait on each other in a cycle.
pub(super) async fn held_properties(
    db: &impl ConnectionTrait,
    portal_id: i64,
    object_type: ObjectType,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, object_properties::Model>, DbErr> {
    use object_properties::Column as P;
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut held = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let mut find = object_properties::Entity::find()
            .filter(P::PortalId.eq(portal_id))
            .filter(P::ObjectType.eq(object_type.singular()))
            .filter(P::HubspotId.is_in(chunk.iter().copied()))
            .order_by_asc(P::HubspotId);
        if db.get_database_backend() == DbBackend::Postgres {
            find = find.lock_exclusive();
        }
        held.extend(find.all(db).await?.into_iter().map(|row| (row.hubspot_id, row)));
    }
    Ok(held)
}

/// Whether a typed row's archive and merge state comes from the objects written or stays as the mirror holds it.
#[derive(Clone, Copy)]
pub(super) enum Lifecycle {
    /// HubSpot's record, read whole: archived or live as it says.
    Written,
    /// Properties changed in place: a deletion or merge another applier wrote meanwhile stays.
    Kept,
}

/// The typed rows alone, computed from the properties.
pub(super) async fn upsert_typed(
    db: &impl ConnectionTrait,
    portal_id: i64,
    object_type: ObjectType,
    objects: &[CrmObject],
    now: DateTime<Utc>,
    lifecycle: Lifecycle,
) -> Result<(), DbErr> {
    let kept: &[&str] = match lifecycle {
        Lifecycle::Written => &[],
        Lifecycle::Kept => &["archived_at", "merged_into"],
    };
    match object_type {
        ObjectType::Contact => {
            let rows = objects.iter().map(|o| convert::contact(portal_id, o, now)).collect();
            upsert_keeping(db, rows, &[contact::Column::PortalId, contact::Column::HubspotId], true, kept).await
        }
        ObjectType::Company => {
            let rows = objects.iter().map(|o| convert::company(portal_id, o, now)).collect();
            upsert_keeping(db, rows, &[company::Column::PortalId, company::Column::HubspotId], true, kept).await
        }
        ObjectType::Deal => {
            let rows = objects.iter().map(|o| convert::deal(portal_id, o, now)).collect();
            upsert_keeping(db, rows, &[deal::Column::PortalId, deal::Column::HubspotId], true, kept).await
        }
        ObjectType::Ticket => {
            let rows = objects.iter().map(|o| convert::ticket(portal_id, o, now)).collect();
            upsert_keeping(db, rows, &[ticket::Column::PortalId, ticket::Column::HubspotId], true, kept).await
        }
        ObjectType::Custom(_) => {
            let display = super::schemas::display_property(db, portal_id, object_type).await?;
            let rows =
                objects.iter().map(|o| convert::custom(portal_id, object_type, display.as_deref(), o, now)).collect();
            let keys =
                [custom_object::Column::PortalId, custom_object::Column::ObjectType, custom_object::Column::HubspotId];
            upsert_keeping(db, rows, &keys, true, kept).await
        }
    }
}

pub async fn upsert_owners(
    db: &impl ConnectionTrait,
    portal_id: i64,
    owners: &[Owner],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let rows = owners
        .iter()
        .map(|o| owner::ActiveModel {
            portal_id: Set(portal_id),
            hubspot_id: Set(o.id),
            email: Set(Some(o.email.clone())),
            first_name: Set(Some(o.first_name.clone())),
            last_name: Set(Some(o.last_name.clone())),
            user_id: Set(Some(o.user_id)),
            teams: Set(serde_json::to_value(&o.teams).unwrap_or_default()),
            created_at: Set(o.created_at),
            updated_at: Set(o.updated_at),
            archived_at: Set(o.archived.then_some(o.updated_at)),
            synced_at: Set(now),
        })
        .collect();
    upsert(db, rows, &[owner::Column::PortalId, owner::Column::HubspotId], true).await
}

/// Pipelines and their stages; a stage's probability and closed flag come from its metadata strings.
pub async fn upsert_pipelines(
    db: &impl ConnectionTrait,
    portal_id: i64,
    pipelines: &[Pipeline],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let rows = pipelines
        .iter()
        .map(|p| pipeline::ActiveModel {
            portal_id: Set(portal_id),
            hubspot_id: Set(p.id.clone()),
            object_type: Set(p.object_type.plural().to_owned()),
            label: Set(p.label.clone()),
            display_order: Set(p.display_order),
            archived_at: Set(p.archived.then_some(p.updated_at)),
            synced_at: Set(now),
        })
        .collect();
    upsert(db, rows, &[pipeline::Column::PortalId, pipeline::Column::HubspotId], false).await?;
    let stages = pipelines
        .iter()
        .flat_map(|p| {
            p.stages.iter().map(move |s| pipeline_stage::ActiveModel {
                portal_id: Set(portal_id),
                pipeline_id: Set(p.id.clone()),
                hubspot_id: Set(s.id.clone()),
                label: Set(s.label.clone()),
                display_order: Set(s.display_order),
                probability: Set(s.metadata.get("probability").and_then(|v| v.parse().ok())),
                is_closed: Set(s
                    .metadata
                    .get("isClosed")
                    .map(|v| v == "true")
                    .unwrap_or_else(|| s.metadata.get("ticketState").is_some_and(|v| v == "CLOSED"))),
                metadata: Set(serde_json::to_value(&s.metadata).unwrap_or_default()),
                archived_at: Set(None),
            })
        })
        .collect();
    let keys =
        [pipeline_stage::Column::PortalId, pipeline_stage::Column::PipelineId, pipeline_stage::Column::HubspotId];
    upsert(db, stages, &keys, false).await?;
    // A pipeline is read whole: a stage it no longer lists was removed at HubSpot.
    use sea_orm::{ColumnTrait, QueryFilter};
    for p in pipelines {
        pipeline_stage::Entity::update_many()
            .col_expr(pipeline_stage::Column::ArchivedAt, Expr::value(now))
            .filter(pipeline_stage::Column::PortalId.eq(portal_id))
            .filter(pipeline_stage::Column::PipelineId.eq(&p.id))
            .filter(pipeline_stage::Column::HubspotId.is_not_in(p.stages.iter().map(|s| s.id.clone())))
            .filter(pipeline_stage::Column::ArchivedAt.is_null())
            .exec(db)
            .await?;
    }
    Ok(())
}

pub async fn upsert_campaigns(
    db: &impl ConnectionTrait,
    portal_id: i64,
    campaigns: &[Campaign],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let rows = campaigns
        .iter()
        .map(|c| campaign::ActiveModel {
            portal_id: Set(portal_id),
            hubspot_id: Set(c.id.clone()),
            name: Set(c.name.clone()),
            campaign_type: Set(Some(c.campaign_type.clone())),
            status: Set(Some(c.status.clone())),
            sent: Set(c.stats.sent),
            delivered: Set(c.stats.delivered),
            opened: Set(c.stats.opened),
            clicked: Set(c.stats.clicked),
            bounced: Set(c.stats.bounced),
            unsubscribed: Set(c.stats.unsubscribed),
            properties: Set(serde_json::to_value(c).unwrap_or_default()),
            created_at: Set(c.created_at),
            updated_at: Set(c.updated_at),
            archived_at: Set(None),
            synced_at: Set(now),
        })
        .collect();
    upsert(db, rows, &[campaign::Column::PortalId, campaign::Column::HubspotId], true).await
}

pub async fn upsert_associations(
    db: &impl ConnectionTrait,
    portal_id: i64,
    associations: &[Association],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let rows = associations.iter().map(|a| convert::association(portal_id, a, now)).collect();
    use association::Column as C;
    upsert(db, rows, &[C::PortalId, C::FromType, C::FromId, C::ToType, C::ToId, C::TypeId], false).await
}

pub async fn ensure_portal(db: &impl ConnectionTrait, portal_id: i64, name: &str) -> Result<(), DbErr> {
    let row = portal::ActiveModel {
        portal_id: Set(portal_id),
        name: Set(name.to_owned()),
        created_at: Set(Utc::now()),
        disconnected_at: Set(None),
    };
    portal::Entity::insert(row)
        .on_conflict(OnConflict::column(portal::Column::PortalId).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The portals the mirror holds, in id order.
pub async fn portal_ids(db: &impl ConnectionTrait) -> Result<Vec<i64>, DbErr> {
    portal::Entity::find().select_only().column(portal::Column::PortalId).into_tuple::<i64>().all(db).await.map(
        |mut ids| {
            ids.sort_unstable();
            ids
        },
    )
}

/// A whole portal (the benchmark's, generated), in one transaction: its property definitions are HubSpot's own and
/// the portal's custom ones; its custom object types with their schemas, definitions and records.
pub async fn write_portal(db: &DatabaseConnection, portal: &Portal) -> Result<(), DbErr> {
    let now = Utc::now();
    let id = portal.portal_id;
    let txn = crate::db::begin_write(db).await?;
    let all_types = write_portal_setup(&txn, portal, now).await?;
    for &object_type in &all_types {
        upsert_objects(&txn, id, object_type, portal.objects(object_type), now).await?;
    }
    upsert_campaigns(&txn, id, &portal.campaigns, now).await?;
    upsert_associations(&txn, id, &portal.associations, now).await?;
    txn.commit().await?;
    refresh_statistics(db).await
}

/// What a whole portal holds besides its records and their links: the portal, schemas, property definitions,
/// owners and pipelines. The object types it has records of, built-in types first.
pub(super) async fn write_portal_setup(
    txn: &impl ConnectionTrait,
    portal: &Portal,
    now: DateTime<Utc>,
) -> Result<Vec<ObjectType>, DbErr> {
    let id = portal.portal_id;
    ensure_portal(txn, id, &portal.name).await?;
    // Schemas first: a custom type's typed rows read its display property from them.
    super::schemas::replace(txn, id, &portal.schemas, now).await?;
    let custom_types: Vec<ObjectType> = portal.schemas.iter().map(|s| s.object_type).collect();
    let all_types: Vec<ObjectType> = ObjectType::BUILT_IN.into_iter().chain(custom_types).collect();
    for &object_type in &all_types {
        let mut definitions = hubspot::default_properties(object_type);
        let custom = portal.custom_properties.iter().filter(|(t, _)| *t == object_type);
        definitions.extend(custom.map(|(_, d)| d.clone()));
        let schema = portal.schemas.iter().filter(|s| s.object_type == object_type);
        definitions.extend(schema.flat_map(|s| s.properties.iter().cloned()));
        super::definitions::replace(txn, id, object_type, &definitions, now).await?;
    }
    upsert_owners(txn, id, &portal.owners, now).await?;
    upsert_pipelines(txn, id, &portal.pipelines, now).await?;
    Ok(all_types)
}

/// After a bulk write, fresh planner statistics: without them Postgres guesses one row per table and plans nested
/// loops that never finish on a real portal. On Postgres a vacuum also marks the new pages all-visible, so lookups in
/// the association index are answered from the index alone instead of visiting every edge row.
pub async fn refresh_statistics(db: &DatabaseConnection) -> Result<(), DbErr> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => "VACUUM (ANALYZE)",
        _ => "ANALYZE",
    };
    db.execute_unprepared(sql).await.map(drop)
}

/// Fresh planner statistics for `tables` after a bulk write to them. A plan made while a table was nearly empty (its
/// last ANALYZE) walks every row of the grown table (8 ms instead of well under one for 50 health scores), and
/// autovacuum, where it runs at all, may be minutes behind.
pub async fn analyze(db: &impl ConnectionTrait, tables: &[&str]) -> Result<(), DbErr> {
    for table in tables {
        db.execute_unprepared(&format!("ANALYZE {table}")).await?;
    }
    Ok(())
}

/// Tombstones records merged into others, each `(merged, survivor)`: they point at their survivor and count as
/// archived from `now`. One statement per chunk of records; how many were not tombstoned yet.
pub async fn mark_merged(
    db: &impl ConnectionTrait,
    portal_id: i64,
    object_type: ObjectType,
    merged: &[(i64, i64)],
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut marked = 0;
    for round in rounds(merged) {
        for chunk in round.chunks(CHUNK) {
            let (mut update, survivor) =
                update_from_values(object_type, chunk.iter().map(|(id, into)| ((*id).into(), (*into).into())));
            let update = update
                .value(Alias::new("merged_into"), survivor)
                .value(
                    Alias::new("archived_at"),
                    sea_orm::sea_query::Func::coalesce([Expr::col(Alias::new("archived_at")), Expr::val(now)]),
                )
                .and_where(Expr::col(Alias::new("portal_id")).eq(portal_id))
                .and_where(Expr::col(Alias::new("merged_into")).is_null())
                .to_owned();
            marked += db.execute(&update).await?.rows_affected();
        }
    }
    Ok(marked)
}

/// An update of `object_type`'s table joined on the record's id to a list of `(hubspot_id, value)`, and the
/// expression of a row's value.
pub(super) fn update_from_values(
    object_type: ObjectType,
    rows: impl Iterator<Item = (sea_orm::Value, sea_orm::Value)>,
) -> (sea_orm::sea_query::UpdateStatement, Expr) {
    use sea_orm::sea_query::{IntoIden, TableRef, ValueTuple};
    // Postgres and SQLite both name a VALUES list's columns `column1`, `column2`.
    let (table, v) = (super::schemas::table(object_type), Alias::new("v"));
    let values = rows.map(|(id, value)| ValueTuple::Two(id, value)).collect();
    let update = sea_orm::sea_query::Query::update()
        .table(table.clone())
        .from(TableRef::ValuesList(values, v.clone().into_iden()))
        .and_where(Expr::col((table, Alias::new("hubspot_id"))).equals((v.clone(), Alias::new("column1"))))
        .and_where_option(super::schemas::of_type(object_type))
        .to_owned();
    (update, Expr::col((v, Alias::new("column2"))))
}

/// `items` in parts where no id comes twice, each id's items in their order: a statement per part, the parts in
/// order, does what a statement per item would. Each part is in id order, the order other writers lock records in
/// (a statement over a list of values locks its rows in the list's order).
pub(super) fn rounds<T: Copy>(items: &[(i64, T)]) -> Vec<Vec<(i64, T)>> {
    let mut rounds: Vec<Vec<(i64, T)>> = Vec::new();
    let mut seen: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    for &(id, item) in items {
        let round = seen.entry(id).or_default();
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push((id, item));
        *round += 1;
    }
    for round in &mut rounds {
        round.sort_by_key(|(id, _)| *id);
    }
    rounds
}

/// Which of `ids` the mirror holds (live or not).
pub async fn held(
    db: &impl ConnectionTrait,
    portal_id: i64,
    object_type: ObjectType,
    ids: &[i64],
) -> Result<std::collections::BTreeSet<i64>, DbErr> {
    let mut held = std::collections::BTreeSet::new();
    for chunk in ids.chunks(CHUNK) {
        let select = sea_orm::sea_query::Query::select()
            .column(Alias::new("hubspot_id"))
            .from(super::schemas::table(object_type))
            .and_where(Expr::col(Alias::new("portal_id")).eq(portal_id))
            .and_where(Expr::col(Alias::new("hubspot_id")).is_in(chunk.iter().copied()))
            .and_where_option(super::schemas::of_type(object_type))
            .to_owned();
        for row in db.query_all(&select).await? {
            held.insert(row.try_get::<i64>("", "hubspot_id")?);
        }
    }
    Ok(held)
}

/// Drops every link between two records, both directions.
pub async fn remove_links(
    db: &impl ConnectionTrait,
    portal_id: i64,
    (a_type, a_id): (ObjectType, i64),
    (b_type, b_id): (ObjectType, i64),
) -> Result<(), DbErr> {
    use association::Column as C;
    use sea_orm::{ColumnTrait, Condition, QueryFilter};
    let direction = |(from, from_id): (ObjectType, i64), (to, to_id): (ObjectType, i64)| {
        Condition::all()
            .add(C::FromType.eq(from.singular()))
            .add(C::FromId.eq(from_id))
            .add(C::ToType.eq(to.singular()))
            .add(C::ToId.eq(to_id))
    };
    association::Entity::delete_many()
        .filter(C::PortalId.eq(portal_id))
        .filter(
            Condition::any()
                .add(direction((a_type, a_id), (b_type, b_id)))
                .add(direction((b_type, b_id), (a_type, a_id))),
        )
        .exec(db)
        .await
        .map(drop)
}

/// Drops the associations of `ids` (of `object_type`) towards `others`, both directions, before they are read
/// again: a link removed at HubSpot must not survive in the mirror.
pub async fn clear_associations(
    db: &impl ConnectionTrait,
    portal_id: i64,
    object_type: ObjectType,
    ids: &[i64],
    others: &[ObjectType],
) -> Result<(), DbErr> {
    if ids.is_empty() || others.is_empty() {
        return Ok(());
    }
    use association::Column as C;
    use sea_orm::{ColumnTrait, QueryFilter};
    let others: Vec<&str> = others.iter().map(|t| t.singular()).collect();
    let this = object_type.singular();
    let forward = sea_orm::Condition::all()
        .add(C::FromType.eq(this))
        .add(C::FromId.is_in(ids.iter().copied()))
        .add(C::ToType.is_in(others.clone()));
    let backward = sea_orm::Condition::all()
        .add(C::ToType.eq(this))
        .add(C::ToId.is_in(ids.iter().copied()))
        .add(C::FromType.is_in(others));
    association::Entity::delete_many()
        .filter(C::PortalId.eq(portal_id))
        .filter(sea_orm::Condition::any().add(forward).add(backward))
        .exec(db)
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rounds_part_repeated_ids_in_their_order_each_part_by_id() {
        let items = [(7, 'a'), (3, 'b'), (7, 'c'), (5, 'd'), (7, 'e'), (3, 'f')];
        let rounds = super::rounds(&items);
        assert_eq!(rounds, [vec![(3, 'b'), (5, 'd'), (7, 'a')], vec![(3, 'f'), (7, 'c')], vec![(7, 'e')]]);
        assert!(super::rounds::<char>(&[]).is_empty());
    }
}

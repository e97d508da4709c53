//! Health scores from the mirror: the inputs the SQL aggregates gather equal the same figures counted row by row
//! in Rust over a generated portal; edge cases (no deals, no activity, every ticket closed) score as designed; a
//! full pass scores every client once and writes history only when figures change.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use chrono::{DateTime, Duration, Utc};
use entities::{association, contact, deal, health_score, health_score_history, ticket};
use hubspot::{AssociationKind, CrmObject, ObjectType};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use server::health::{
    self, Scoring, Subject,
    inputs::{baseline, gather},
    score::{self, Inputs, RECENT_DAYS},
};
use tests::{Mirror, fixed_now, on_both, record};

/// The ids linked from `from` records of `from_type` to records of `to_type`.
fn links(edges: &[association::Model], from_type: &str, to_type: &str) -> BTreeMap<i64, BTreeSet<i64>> {
    let mut links: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for e in edges.iter().filter(|e| e.from_type == from_type && e.to_type == to_type) {
        links.entry(e.from_id).or_default().insert(e.to_id);
    }
    links
}

/// A company's inputs counted row by row.
fn expected(
    company: &entities::company::Model,
    contacts: &[&contact::Model],
    deals: &[&deal::Model],
    tickets: &[&ticket::Model],
    now: DateTime<Utc>,
) -> Inputs {
    let recent = now - Duration::days(RECENT_DAYS);
    let previous = recent - Duration::days(RECENT_DAYS);
    let since = |t: Option<DateTime<Utc>>| t.is_some_and(|t| t >= recent);
    let amount = |d: &&deal::Model| d.amount.unwrap_or(0.0);
    let closed: Vec<f64> = tickets
        .iter()
        .filter_map(|t| t.closed_at.map(|c| (c - t.created_at).num_milliseconds() as f64 / 86_400_000.0))
        .collect();
    let max = |times: Vec<Option<DateTime<Utc>>>| times.into_iter().flatten().max();
    Inputs {
        lifecycle_stage: company.lifecyclestage.clone(),
        last_activity: max(std::iter::once(company.notes_last_updated_at)
            .chain(contacts.iter().flat_map(|c| [c.last_contacted_at, c.email_last_open_at, c.email_last_click_at]))
            .collect()),
        open_deals: deals.iter().filter(|d| d.is_closed != Some(true)).count() as i64,
        won_revenue: deals.iter().filter(|d| d.is_closed_won == Some(true)).map(amount).sum(),
        recent_amount: deals.iter().filter(|d| d.created_at >= recent).map(amount).sum(),
        previous_amount: deals.iter().filter(|d| d.created_at >= previous && d.created_at < recent).map(amount).sum(),
        contacts: contacts.len() as i64,
        opened: contacts.iter().filter(|c| since(c.email_last_open_at)).count() as i64,
        clicked: contacts.iter().filter(|c| since(c.email_last_click_at)).count() as i64,
        engaged: contacts.iter().filter(|c| since(c.email_last_open_at) || since(c.email_last_click_at)).count() as i64,
        notes: contacts.iter().map(|c| c.num_notes.unwrap_or(0) as i64).sum(),
        open_tickets: tickets.iter().filter(|t| t.closed_at.is_none()).count() as i64,
        urgent_tickets: tickets
            .iter()
            .filter(|t| t.closed_at.is_none() && matches!(t.priority.as_deref(), Some("HIGH" | "URGENT")))
            .count() as i64,
        days_to_close: (!closed.is_empty()).then(|| closed.iter().sum::<f64>() / closed.len() as f64),
        changed: [
            Some(company.updated_at),
            max(deals.iter().map(|d| Some(d.updated_at)).collect()),
            max(contacts.iter().map(|c| Some(c.updated_at)).collect()),
            max(tickets.iter().map(|t| Some(t.updated_at)).collect()),
        ],
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6 * a.abs().max(1.0)
}

on_both!(gathered_inputs_equal_the_figures_counted_row_by_row, |backend| async move {
    let mirror = Mirror::small(backend).await;
    let (db, portal, now) = (&mirror.db.db, mirror.portal.portal_id, fixed_now());
    let companies = entities::company::Entity::find()
        .filter(entities::company::Column::ArchivedAt.is_null())
        .filter(entities::company::Column::MergedInto.is_null())
        .all(db)
        .await
        .unwrap();
    let contacts: BTreeMap<i64, contact::Model> =
        contact::Entity::find().all(db).await.unwrap().into_iter().map(|c| (c.hubspot_id, c)).collect();
    let deals: BTreeMap<i64, deal::Model> =
        deal::Entity::find().all(db).await.unwrap().into_iter().map(|d| (d.hubspot_id, d)).collect();
    let tickets: BTreeMap<i64, ticket::Model> =
        ticket::Entity::find().all(db).await.unwrap().into_iter().map(|t| (t.hubspot_id, t)).collect();
    let edges = association::Entity::find().all(db).await.unwrap();
    let live = |ids: Option<&BTreeSet<i64>>, archived: &dyn Fn(i64) -> bool| -> Vec<i64> {
        ids.into_iter().flatten().copied().filter(|id| !archived(*id)).collect()
    };
    let (to_contacts, to_deals, to_tickets) =
        (links(&edges, "company", "contact"), links(&edges, "company", "deal"), links(&edges, "company", "ticket"));

    let ids: Vec<i64> = companies.iter().map(|c| c.hubspot_id).collect();
    let gathered = gather(db, portal, Subject::Company, &ids, now).await.unwrap();
    assert_eq!(gathered.len(), companies.len());
    let (mut with_deals, mut with_tickets, mut with_contacts) = (0, 0, 0);
    for company in &companies {
        let id = company.hubspot_id;
        let cs: Vec<&contact::Model> =
            live(to_contacts.get(&id), &|c| contacts.get(&c).is_none_or(|c| c.archived_at.is_some()))
                .iter()
                .map(|c| &contacts[c])
                .collect();
        let ds: Vec<&deal::Model> = live(to_deals.get(&id), &|d| deals.get(&d).is_none_or(|d| d.archived_at.is_some()))
            .iter()
            .map(|d| &deals[d])
            .collect();
        let ts: Vec<&ticket::Model> =
            live(to_tickets.get(&id), &|t| tickets.get(&t).is_none_or(|t| t.archived_at.is_some()))
                .iter()
                .map(|t| &tickets[t])
                .collect();
        (with_deals, with_tickets, with_contacts) = (
            with_deals + !ds.is_empty() as i32,
            with_tickets + !ts.is_empty() as i32,
            with_contacts + !cs.is_empty() as i32,
        );
        let want = expected(company, &cs, &ds, &ts, now);
        let got = &gathered[&id];
        let floats = [
            (got.won_revenue, want.won_revenue),
            (got.recent_amount, want.recent_amount),
            (got.previous_amount, want.previous_amount),
        ];
        assert!(floats.iter().all(|(a, b)| close(*a, *b)), "company {id}: {got:?} vs {want:?}");
        assert!(
            match (got.days_to_close, want.days_to_close) {
                (Some(a), Some(b)) => (a - b).abs() < 0.01,
                (a, b) => a == b,
            },
            "company {id}: {got:?} vs {want:?}"
        );
        let exact = |i: &Inputs| {
            (i.lifecycle_stage.clone(), i.last_activity, i.open_deals, i.contacts, i.opened, i.clicked, i.engaged)
        };
        assert_eq!(exact(got), exact(&want), "company {id}");
        assert_eq!(
            (got.notes, got.open_tickets, got.urgent_tickets, got.changed),
            (want.notes, want.open_tickets, want.urgent_tickets, want.changed),
            "company {id}"
        );
    }
    assert!(with_deals > 10 && with_tickets > 10 && with_contacts > 10, "the portal exercises every input");

    let b = baseline(db, portal).await.unwrap();
    assert!(b.open_rate > 0.0 && b.open_rate < 1.0 && b.click_rate < b.open_rate, "{b:?}");
});

on_both!(edge_cases_score_as_designed_and_history_records_changes_only, |backend| async move {
    let mirror = Mirror::small(backend).await;
    let (db, portal, now) = (&mirror.db.db, mirror.portal.portal_id, Utc::now());
    let days = |n: i64| now - Duration::days(n);
    let write = |object_type: ObjectType, objects: Vec<CrmObject>| async move {
        server::mirror::upsert_objects(db, portal, object_type, &objects, now).await.unwrap();
    };
    let link = |from: ObjectType, from_id: i64, to: ObjectType, to_id: i64| async move {
        let kind = AssociationKind::default_between(from, to).unwrap();
        let edges = [kind.association(from_id, to_id), kind.inverse().association(to_id, from_id)];
        server::mirror::upsert_associations(db, portal, &edges, now).await.unwrap();
    };
    // A company with nothing: no contacts, deals, tickets or activity.
    write(ObjectType::Company, vec![record(9_000_001, days(400), &[("name", "Quiet Ltd")])]).await;
    // A customer whose every ticket is closed, ten days after it opened; one won deal, long ago.
    write(
        ObjectType::Company,
        vec![record(9_000_002, days(400), &[("name", "Served Ltd"), ("lifecyclestage", "customer")])],
    )
    .await;
    let closed_at = |opened: i64| days(opened - 10).to_rfc3339();
    write(
        ObjectType::Ticket,
        vec![
            record(
                9_100_001,
                days(50),
                &[("subject", "a"), ("closed_date", &closed_at(50)), ("hs_ticket_priority", "HIGH")],
            ),
            record(9_100_002, days(30), &[("subject", "b"), ("closed_date", &closed_at(30))]),
        ],
    )
    .await;
    write(
        ObjectType::Deal,
        vec![record(
            9_200_001,
            days(300),
            &[
                ("dealname", "Old win"),
                ("amount", "10000"),
                ("dealstage", "closedwon"),
                ("pipeline", "default"),
                ("hs_is_closed", "true"),
                ("hs_is_closed_won", "true"),
            ],
        )],
    )
    .await;
    for ticket in [9_100_001, 9_100_002] {
        link(ObjectType::Company, 9_000_002, ObjectType::Ticket, ticket).await;
    }
    link(ObjectType::Company, 9_000_002, ObjectType::Deal, 9_200_001).await;

    let scoring = Scoring::default();
    let cause = json!({ "kind": "test" });
    let changes =
        health::store::rescore(db, portal, Subject::Company, &[9_000_001, 9_000_002, 9_999_999], &cause, scoring, now)
            .await
            .unwrap();
    assert_eq!(changes.scores.len(), 2, "an unknown id is not scored");
    let quiet = changes.scores.iter().find(|c| c.id == 9_000_001).unwrap();
    assert_eq!((quiet.score.crm, quiet.score.payment, quiet.score.engagement, quiet.score.support), (4, 20, 0, 100));
    assert_eq!(quiet.score.signals, ["inactive", "noPipeline"]);
    assert_eq!(quiet.previous, None);
    let served = changes.scores.iter().find(|c| c.id == 9_000_002).unwrap();
    // Every ticket closed: no open-ticket cost, ten days to close costs 22 × 8/12.
    assert_eq!(served.score.support, 85);
    assert_eq!(
        served.score.payment,
        60 * 2 / 3 + 20,
        "10,000 won earns two thirds of the revenue points; no recent deals is a neutral trend"
    );
    assert!(!served.score.signals.contains(&"urgentTickets"), "the HIGH ticket is closed");

    // Nothing changed: no new history. A deal opening changes the figures: one history row, with the cause.
    let again = health::store::rescore(db, portal, Subject::Company, &[9_000_001, 9_000_002], &cause, scoring, now)
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
    write(
        ObjectType::Deal,
        vec![record(
            9_200_002,
            days(1),
            &[
                ("dealname", "New"),
                ("amount", "5000"),
                ("dealstage", "appointmentscheduled"),
                ("pipeline", "default"),
                ("hs_is_closed", "false"),
            ],
        )],
    )
    .await;
    link(ObjectType::Company, 9_000_001, ObjectType::Deal, 9_200_002).await;
    let deal_cause = json!({ "kind": "webhook", "objectType": "deal", "objectId": 9_200_002 });
    let changed =
        health::store::rescore(db, portal, Subject::Company, &[9_000_001], &deal_cause, scoring, now).await.unwrap();
    assert_eq!(changed.scores.len(), 1);
    assert_eq!(changed.scores[0].previous, Some(quiet.score.overall));
    assert!(changed.scores[0].score.overall > quiet.score.overall);
    let history = health_score_history::Entity::find()
        .filter(health_score_history::Column::SubjectId.eq(9_000_001))
        .order_by_asc(health_score_history::Column::Id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].cause, deal_cause);
    assert_eq!(history[1].id, changed.scores[0].history_id);
    let current = health_score::Entity::find()
        .filter(health_score::Column::SubjectId.eq(9_000_001))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.overall, changed.scores[0].score.overall);
    assert_eq!(
        current.explanation,
        score::explanation(&changed.scores[0].score, scoring.weights, baseline(db, portal).await.unwrap())
    );
});

async fn contact_company_edges(db: &sea_orm::DatabaseConnection) -> Vec<association::Model> {
    let edges = association::Entity::find().filter(association::Column::FromType.eq("contact"));
    edges.filter(association::Column::ToType.eq("company")).all(db).await.unwrap()
}

on_both!(a_full_pass_scores_every_client_once, |backend| async move {
    let mirror = Mirror::small(backend).await;
    let (db, portal) = (&mirror.db.db, mirror.portal.portal_id);
    let cause = json!({ "kind": "fullPass" });
    let changes = health::full_pass(db, portal, Scoring::default(), &cause).await.unwrap();
    let companies = health::clients(db, portal, Subject::Company).await.unwrap();
    let lone = health::clients(db, portal, Subject::Contact).await.unwrap();
    let live_companies = entities::company::Entity::find()
        .filter(entities::company::Column::ArchivedAt.is_null())
        .filter(entities::company::Column::MergedInto.is_null())
        .count(db)
        .await
        .unwrap();
    assert_eq!(companies.len() as u64, live_companies);
    assert_eq!(changes.scores.len(), companies.len() + lone.len());
    assert_eq!(health_score::Entity::find().count(db).await.unwrap() as usize, changes.scores.len());
    // A contact scored alone has no live company.
    let edges = contact_company_edges(db).await;
    let linked: BTreeSet<i64> = edges.iter().filter(|e| companies.contains(&e.to_id)).map(|e| e.from_id).collect();
    assert!(lone.iter().all(|c| !linked.contains(c)));
    let spread: BTreeSet<i32> = changes.scores.iter().map(|c| c.score.overall / 10).collect();
    assert!(spread.len() >= 3, "generated clients differ in health: {spread:?}");
    let again = health::full_pass(db, portal, Scoring::default(), &cause).await.unwrap();
    assert!(again.is_empty(), "a second pass over an unchanged mirror changes nothing");
});

// A change to contacts touches their companies and, of the contacts, only those with no live company (the list of
// ids is a set on Postgres, a list on SQLite: the same answer).
on_both!(a_change_to_contacts_touches_their_companies_and_the_lone_ones, |backend| async move {
    let mirror = Mirror::small(backend).await;
    let (db, portal) = (&mirror.db.db, mirror.portal.portal_id);
    let companies: BTreeSet<i64> = health::clients(db, portal, Subject::Company).await.unwrap().into_iter().collect();
    let lone: BTreeSet<i64> = health::clients(db, portal, Subject::Contact).await.unwrap().into_iter().collect();
    let edges = contact_company_edges(db).await;
    let linked: Vec<&association::Model> = edges.iter().filter(|e| companies.contains(&e.to_id)).take(3).collect();
    assert!(linked.len() == 3 && lone.len() >= 3, "the portal holds linked and lone contacts");
    let chosen: Vec<i64> = linked.iter().map(|e| e.from_id).chain(lone.iter().take(3).copied()).collect();
    let records: Vec<(ObjectType, i64)> = chosen.iter().map(|id| (ObjectType::Contact, *id)).collect();
    let touched = health::affected(db, portal, &records).await.unwrap();
    assert_eq!(touched[&Subject::Contact], lone.iter().take(3).copied().collect::<Vec<_>>());
    let their_companies: BTreeSet<i64> =
        edges.iter().filter(|e| chosen.contains(&e.from_id)).map(|e| e.to_id).collect();
    assert_eq!(touched[&Subject::Company].iter().copied().collect::<BTreeSet<_>>(), their_companies);
    let none = health::affected(db, portal, &[]).await.unwrap();
    assert!(none[&Subject::Contact].is_empty() && none[&Subject::Company].is_empty());
});

on_both!(keep_scored_counts_a_pass_when_every_client_is_scored, |backend| async move {
    let mirror = Mirror::small(backend).await;
    let (db, portal) = (&mirror.db.db, mirror.portal.portal_id);
    let health = health::Health::new(db.clone(), Scoring::default());
    let passes = Arc::new(AtomicU64::new(0));
    let every = std::time::Duration::from_secs(3600);
    let task = tokio::spawn(health::keep_scored(health, every, passes.clone()));
    tokio::time::timeout(std::time::Duration::from_secs(120), async {
        while passes.load(Ordering::Relaxed) == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the first pass ends");
    task.abort();
    let clients = health::clients(db, portal, Subject::Company).await.unwrap().len()
        + health::clients(db, portal, Subject::Contact).await.unwrap().len();
    assert!(clients > 0);
    assert_eq!(health_score::Entity::find().count(db).await.unwrap() as usize, clients);
    assert_eq!(passes.load(Ordering::Relaxed), 1, "the next pass waits an hour");
});

on_both!(scores_are_queryable_filtered_sorted_and_explained, |backend| async move {
    let mirror = Mirror::small(backend).await;
    let (db, portal) = (&mirror.db.db, mirror.portal.portal_id);
    let scored = health::full_pass(db, portal, Scoring::default(), &json!({ "kind": "fullPass" })).await.unwrap();

    let data = mirror
        .data(
            "{ companies(first: 5) { nodes { id healthScore { subjectType overall crm payment engagement support churnRisk
                factors { dimension input contribution } signals basis } } } }",
            json!({}),
        )
        .await;
    for company in data["companies"]["nodes"].as_array().unwrap() {
        let score = &company["healthScore"];
        assert_eq!(score["subjectType"], "COMPANY", "{company}");
        for (dimension, field, start) in [
            ("crm", "crm", 0.0),
            ("payment", "payment", 0.0),
            ("engagement", "engagement", 0.0),
            ("support", "support", 100.0),
        ] {
            let sum: f64 = score["factors"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["dimension"] == dimension)
                .map(|f| f["contribution"].as_f64().unwrap())
                .sum();
            assert_eq!((start + sum).round() as i64, score[field].as_i64().unwrap(), "{dimension}: {score}");
        }
        assert_eq!(score["basis"]["weights"]["crm"], 0.3);
    }

    // By default the least healthy first; totalCount counts every scored client.
    let page = mirror
        .data("{ healthScores(first: 10) { totalCount nodes { overall } pageInfo { endCursor } } }", json!({}))
        .await;
    assert_eq!(page["healthScores"]["totalCount"], scored.scores.len());
    let overall: Vec<i64> =
        page["healthScores"]["nodes"].as_array().unwrap().iter().map(|n| n["overall"].as_i64().unwrap()).collect();
    assert!(overall.windows(2).all(|w| w[0] <= w[1]), "{overall:?}");
    assert_eq!(overall[0], scored.scores.iter().map(|c| c.score.overall as i64).min().unwrap());

    let risky = "query($after: String) { healthScores(first: 7, after: $after, where: { subjectType: COMPANY, churnRisk: { gte: 40 } },
        orderBy: [{ field: CHURN_RISK, direction: DESC }]) { nodes { churnRisk company { id } contact { id } }
        pageInfo { hasNextPage endCursor } } }";
    let (mut seen, mut after, mut last) = (BTreeSet::new(), Value::Null, i64::MAX);
    loop {
        let page = mirror.data(risky, json!({ "after": after })).await["healthScores"].clone();
        for node in page["nodes"].as_array().unwrap() {
            let risk = node["churnRisk"].as_i64().unwrap();
            assert!(risk >= 40 && risk <= last, "sorted by churn risk, descending: {risk} after {last}");
            last = risk;
            assert!(node["contact"].is_null());
            assert!(seen.insert(node["company"]["id"].as_str().unwrap().to_owned()), "no company twice");
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let expected = scored.scores.iter().filter(|c| c.subject == Subject::Company && c.score.churn_risk >= 40).count();
    assert_eq!(seen.len(), expected);
    assert!(expected > 7, "the filter spans pages");

    let company = &data["companies"]["nodes"][0]["id"];
    let history = mirror
        .data(
            "query($id: ID!) { healthScoreHistory(id: $id) { cursor overall previousOverall cause } }",
            json!({ "id": company }),
        )
        .await;
    let points = history["healthScoreHistory"].as_array().unwrap();
    assert_eq!(points.len(), 1);
    assert_eq!(points[0]["cause"], json!({ "kind": "fullPass" }));
    assert_eq!(points[0]["overall"], data["companies"]["nodes"][0]["healthScore"]["overall"]);
    assert!(points[0]["previousOverall"].is_null());
    let deal = mirror.data("{ deals(first: 1) { nodes { id } } }", json!({})).await["deals"]["nodes"][0]["id"].clone();
    let error = mirror.error("query($id: ID!) { healthScoreHistory(id: $id) { cursor } }", json!({ "id": deal })).await;
    assert_eq!(error["extensions"]["argument"], "id", "{error}");
});

// A mutation rescores the clients it touches before it answers: the next query sees the score moved.
on_both!(a_mutation_rescores_before_it_answers, |backend| async move {
    let gateway = tests::gateway::Gateway::start(backend, 100_001).await;
    health::full_pass(&gateway.db.db, gateway.portal, Scoring::default(), &json!({ "kind": "fullPass" }))
        .await
        .unwrap();
    let companies = gateway
        .data(
            "{ companies(first: 40) { nodes { id healthScore { payment overall factors { input value } }
                deals(first: 10) { nodes { id isClosed } } } } }",
            json!({}),
        )
        .await;
    // Winning 250,000 raises the revenue points of a company that has won less than 100,000.
    let won = |c: &Value| {
        let factors = c["healthScore"]["factors"].as_array().unwrap().clone();
        factors.iter().find(|f| f["input"] == "closedWonRevenue").unwrap()["value"].as_f64().unwrap()
    };
    let company = companies["companies"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| won(c) < 100_000.0 && c["deals"]["nodes"].as_array().unwrap().iter().any(|d| d["isClosed"] == false))
        .expect("a company with an open deal and less than 100,000 won")
        .clone();
    let deal =
        company["deals"]["nodes"].as_array().unwrap().iter().find(|d| d["isClosed"] == false).unwrap()["id"].clone();
    gateway
        .data(
            "mutation($id: ID!) { updateDeal(id: $id, input: { stage: \"closedwon\", amount: 250000 }) { id } }",
            json!({ "id": deal }),
        )
        .await;
    let after = gateway
        .data(
            "query($id: ID!) { company(id: $id) { healthScore { payment overall } } healthScoreHistory(id: $id) { cause previousOverall } }",
            json!({ "id": company["id"] }),
        )
        .await;
    assert!(
        after["company"]["healthScore"]["payment"].as_i64() > company["healthScore"]["payment"].as_i64(),
        "{company} → {after}"
    );
    let last = after["healthScoreHistory"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["cause"]["kind"], "mutation");
    assert_eq!(last["cause"]["operation"], "update");
    assert_eq!(last["previousOverall"], company["healthScore"]["overall"]);
});

// A write that sets no property a score reads rescores nothing: it costs the statements of the write alone.
on_both!(a_write_of_unscored_properties_rescores_nothing, |backend| async move {
    let gateway = tests::gateway::Gateway::start(backend, 100_001).await;
    health::full_pass(&gateway.db.db, gateway.portal, Scoring::default(), &json!({ "kind": "fullPass" }))
        .await
        .unwrap();
    let deals = gateway.data("{ deals(first: 2) { nodes { id } } }", json!({})).await;
    let ids: Vec<Value> = deals["deals"]["nodes"].as_array().unwrap().iter().map(|d| d["id"].clone()).collect();
    let statements = |query: &'static str, variables: Value| {
        let gateway = &gateway;
        async move {
            let before = gateway.db.statement_count();
            gateway.data(query, variables).await;
            gateway.db.statement_count() - before
        }
    };
    let single = "mutation($id: ID!, $input: DealInput!) { updateDeal(id: $id, input: $input) { id } }";
    let batch = "mutation($inputs: [DealUpdate!]!) { updateDeals(inputs: $inputs) { __typename } }";
    let renamed = statements(single, json!({ "id": ids[0], "input": { "name": "Renamed" } })).await;
    let repriced = statements(single, json!({ "id": ids[0], "input": { "amount": 1234 } })).await;
    assert!(
        renamed + 5 <= repriced,
        "a rename ({renamed} statements) skips the rescoring a new amount ({repriced}) runs"
    );
    let both = |input: Value| json!({ "inputs": [{ "id": ids[0], "input": input }, { "id": ids[1], "input": input }] });
    let renamed = statements(batch, both(json!({ "name": "Renamed again" }))).await;
    let repriced = statements(batch, both(json!({ "amount": 4321 }))).await;
    assert!(renamed + 5 <= repriced, "batch: a rename ({renamed}) skips the rescoring a new amount ({repriced}) runs");
});

// Most contacts hold no score (their company does) and many clients no insights: a list shows null and an empty
// list for those, and each stored score and insight for the others, from one lookup per level.
on_both!(lists_show_each_clients_score_and_insights_or_none, |backend| async move {
    let mirror = Mirror::small(backend).await;
    let (db, portal) = (&mirror.db.db, mirror.portal.portal_id);
    health::full_pass(db, portal, Scoring::default(), &json!({ "kind": "fullPass" })).await.unwrap();
    let scores: BTreeMap<(String, i64), i64> = health_score::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| ((s.subject_type, s.subject_id), s.overall as i64))
        .collect();
    let mut insights: BTreeMap<(String, i64), usize> = BTreeMap::new();
    for row in entities::insight::Entity::find().all(db).await.unwrap() {
        *insights.entry((row.subject_type, row.subject_id)).or_default() += 1;
    }
    let query = "{ companies(first: 100) { nodes { hubspotId healthScore { overall } insights { type }
        contacts(first: 20) { nodes { hubspotId healthScore { overall } insights { type } } } } } }";
    let before = mirror.db.statement_count();
    let data = mirror.data(query, json!({})).await;
    let statements = mirror.db.statement_count() - before;
    let (mut scored, mut unscored, mut with_insights, mut without) = (0, 0, 0, 0);
    let mut check = |kind: &str, node: &Value| {
        let key = (kind.to_owned(), node["hubspotId"].as_str().unwrap().parse::<i64>().unwrap());
        match scores.get(&key) {
            Some(overall) => {
                assert_eq!(node["healthScore"]["overall"].as_i64(), Some(*overall), "{node}");
                scored += 1;
            }
            None => {
                assert!(node["healthScore"].is_null(), "{node}");
                unscored += 1;
            }
        }
        let count = insights.get(&key).copied().unwrap_or(0);
        assert_eq!(node["insights"].as_array().unwrap().len(), count, "{node}");
        if count > 0 { with_insights += 1 } else { without += 1 }
    };
    for company in data["companies"]["nodes"].as_array().unwrap() {
        check("company", company);
        for contact in company["contacts"]["nodes"].as_array().unwrap() {
            check("contact", contact);
        }
    }
    assert!(scored > 0 && unscored > 0, "{scored} scored, {unscored} not: the portal must hold both");
    assert!(with_insights > 0 && without > 0, "{with_insights} with insights, {without} without");
    // companies; their scores and insights; contacts with their edges; their scores and insights
    assert_eq!(statements, 6);
});

// A full pass fills the score tables from empty; the planner must then know their size, or it keeps plans made for
// empty tables (a lookup of 50 scores walked all 21,000 of a portal's, 8 ms instead of well under one).
on_both!(a_full_pass_leaves_the_planner_statistics_of_what_it_wrote, |backend: tests::Backend| async move {
    use sea_orm::{ConnectionTrait, Statement};
    let mirror = Mirror::small(backend).await;
    let (db, portal) = (&mirror.db.db, mirror.portal.portal_id);
    health::full_pass(db, portal, Scoring::default(), &json!({ "kind": "fullPass" })).await.unwrap();
    let scores = health_score::Entity::find().count(db).await.unwrap() as f64;
    let sql = match backend {
        tests::Backend::Postgres => "SELECT reltuples::float8 AS n FROM pg_class WHERE relname = 'health_scores'",
        // Each of sqlite_stat1's rows for a table starts its `stat` with the table's row count.
        tests::Backend::Sqlite => "SELECT CAST(stat AS REAL) FROM sqlite_stat1 WHERE tbl = 'health_scores' LIMIT 1",
    };
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    let known: f64 = row.expect("statistics of health_scores").try_get_by_index(0).unwrap();
    assert!(scores > 10.0, "{scores} scores: too few to tell");
    assert_eq!(known, scores, "the planner's row count of health_scores");
});

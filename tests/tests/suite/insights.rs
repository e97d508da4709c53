//! Insights from the mirror: a full pass over a generated portal leaves open exactly the insights the rules find
//! for each client now; an insight is raised once, kept while its rule holds, and resolved (with its cause) when
//! the condition clears; `insights(where)`, `company.insights` and their errors.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, Utc};
use entities::{insight, insight_event};
use hubspot::{AssociationKind, CrmObject, ObjectType};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use server::health::{
    self, Scoring, Subject,
    inputs::{baseline, gather},
    insights::evaluate,
    score,
};
use tests::{Mirror, on_both, record};

on_both!(a_full_pass_leaves_open_what_the_rules_find_for_each_client, |backend| async move {
    let mirror = Mirror::small(backend).await;
    let (db, portal) = (&mirror.db.db, mirror.portal.portal_id);
    let changes = health::full_pass(db, portal, Scoring::default(), &json!({ "kind": "fullPass" })).await.unwrap();
    assert!(changes.insights.iter().all(|c| c.change == "raised"), "a first pass only raises");

    let now = changes.scores.first().unwrap().computed_at;
    let b = baseline(db, portal).await.unwrap();
    let mut expected = BTreeSet::new();
    for subject in [Subject::Company, Subject::Contact] {
        let ids = health::clients(db, portal, subject).await.unwrap();
        for chunk in ids.chunks(500) {
            for (id, inputs) in gather(db, portal, subject, chunk, now).await.unwrap() {
                let s = score::score(&inputs, b, Scoring::default().weights, now);
                for finding in evaluate(&inputs, &s, &Scoring::default().thresholds, now) {
                    expected.insert((
                        subject.as_str().to_owned(),
                        id,
                        finding.kind.as_str().to_owned(),
                        finding.impact.as_str(),
                    ));
                }
            }
        }
    }
    let open = insight::Entity::find().filter(insight::Column::Status.eq("open")).all(db).await.unwrap();
    let stored: BTreeSet<_> =
        open.iter().map(|i| (i.subject_type.clone(), i.subject_id, i.kind.clone(), schema_impact(&i.impact))).collect();
    assert_eq!(stored, expected);
    assert_eq!(open.len(), changes.insights.len(), "one raise each");
    let kinds: BTreeSet<&str> = open.iter().map(|i| i.kind.as_str()).collect();
    assert!(kinds.len() >= 3, "the generated portal exercises several rules: {kinds:?}");
    assert!(
        open.iter().all(|i| (0..=100).contains(&i.confidence) && i.actions.as_array().is_some_and(|a| !a.is_empty()))
    );

    let again = health::full_pass(db, portal, Scoring::default(), &json!({ "kind": "fullPass" })).await.unwrap();
    assert!(again.insights.is_empty(), "an unchanged mirror raises and resolves nothing");
    let events = insight_event::Entity::find().all(db).await.unwrap();
    assert_eq!(events.len(), open.len());
});

/// The stored impact as the `'static` name the rules use.
fn schema_impact(stored: &str) -> &'static str {
    schema::insights::InsightImpact::parse(stored).expect("a known impact").as_str()
}

on_both!(an_insight_is_raised_once_kept_and_resolved_when_its_condition_clears, |backend| async move {
    let mirror = Mirror::small(backend).await;
    let (db, portal, now) = (&mirror.db.db, mirror.portal.portal_id, Utc::now());
    let days = |n: i64| now - Duration::days(n);
    let write = |object_type: ObjectType, objects: Vec<CrmObject>| async move {
        server::mirror::upsert_objects(db, portal, object_type, &objects, now).await.unwrap();
    };
    // A big client nobody talks to: 150,000 won, no contacts, no activity ever.
    write(ObjectType::Company, vec![record(9_000_003, days(400), &[("name", "Rich Quiet Ltd")])]).await;
    write(
        ObjectType::Deal,
        vec![record(
            9_200_003,
            days(300),
            &[
                ("dealname", "Big win"),
                ("amount", "150000"),
                ("dealstage", "closedwon"),
                ("pipeline", "default"),
                ("hs_is_closed", "true"),
                ("hs_is_closed_won", "true"),
            ],
        )],
    )
    .await;
    let kind = AssociationKind::default_between(ObjectType::Company, ObjectType::Deal).unwrap();
    let edges = [kind.association(9_000_003, 9_200_003), kind.inverse().association(9_200_003, 9_000_003)];
    server::mirror::upsert_associations(db, portal, &edges, now).await.unwrap();

    let rescore = |cause: serde_json::Value| async move {
        health::store::rescore(db, portal, Subject::Company, &[9_000_003], &cause, Scoring::default(), now)
            .await
            .unwrap()
    };
    let first = rescore(json!({ "kind": "test", "step": 1 })).await;
    let raised: BTreeMap<&str, &str> =
        first.insights.iter().map(|c| (c.insight.kind.as_str(), c.insight.impact.as_str())).collect();
    assert_eq!(
        raised,
        BTreeMap::from([("highValueLowEngagement", "high"), ("inactiveClient", "critical")]),
        "150,000 is ten times the high-value threshold; never active makes inactivity one level worse"
    );
    assert!(first.insights.iter().all(|c| c.change == "raised" && c.insight.status == "open" && c.cursor > 0));

    let second = rescore(json!({ "kind": "test", "step": 2 })).await;
    assert!(second.insights.is_empty(), "still holding: no second raise");
    let rows = insight::Entity::find().filter(insight::Column::SubjectId.eq(9_000_003)).all(db).await.unwrap();
    assert_eq!(rows.len(), 2);

    // Activity today: inactivity clears and is resolved with the cause; the other insight stays open.
    write(
        ObjectType::Company,
        vec![record(
            9_000_003,
            days(400),
            &[("name", "Rich Quiet Ltd"), ("notes_last_updated", &days(1).to_rfc3339())],
        )],
    )
    .await;
    let cause = json!({ "kind": "webhook", "eventIds": [42] });
    let third = rescore(cause.clone()).await;
    assert_eq!(third.insights.len(), 1, "{:?}", third.insights);
    let resolved = &third.insights[0];
    assert_eq!((resolved.change.as_str(), resolved.insight.kind.as_str()), ("resolved", "inactiveClient"));
    assert_eq!(resolved.insight.resolved_at, Some(now));
    let event = insight_event::Entity::find()
        .filter(insight_event::Column::InsightId.eq(resolved.insight.id))
        .order_by_desc(insight_event::Column::Id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((event.change.as_str(), &event.cause, event.id), ("resolved", &cause, resolved.cursor));

    // GraphQL: open ones filtered by impact, a company's own, and a bad filter naming its field.
    let data = mirror
        .data(
            "{ insights(where: {status: OPEN, minImpact: HIGH, companyId: \"9000003\"}) { totalCount
                nodes { type impact status confidence recommendedActions evidence company { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["insights"]["totalCount"], 1);
    let node = &data["insights"]["nodes"][0];
    assert_eq!((node["type"].as_str(), node["impact"].as_str()), (Some("HIGH_VALUE_LOW_ENGAGEMENT"), Some("HIGH")));
    assert_eq!(node["company"]["name"], "Rich Quiet Ltd");
    assert_eq!(node["evidence"]["wonRevenue"], 150_000.0);
    assert!(node["recommendedActions"].as_array().is_some_and(|a| a.len() == 3));
    let company = mirror
        .data("{ company(id: \"9000003\") { open: insights(status: OPEN) { type } all: insights { type status resolvedAt } } }", json!({}))
        .await;
    assert_eq!(company["company"]["open"], json!([{ "type": "HIGH_VALUE_LOW_ENGAGEMENT" }]));
    assert_eq!(company["company"]["all"].as_array().unwrap().len(), 2);
    let error = mirror.error("{ insights(where: {minConfidence: 101}) { totalCount } }", json!({})).await;
    assert!(error["message"].as_str().unwrap().contains("where.minConfidence"), "{error}");
});

on_both!(a_contact_that_gains_a_company_has_its_insights_resolved, |backend| async move {
    let mirror = Mirror::small(backend).await;
    let (db, portal, now) = (&mirror.db.db, mirror.portal.portal_id, Utc::now());
    health::full_pass(db, portal, Scoring::default(), &json!({ "kind": "fullPass" })).await.unwrap();
    let lone = insight::Entity::find()
        .filter(insight::Column::SubjectType.eq("contact"))
        .filter(insight::Column::Status.eq("open"))
        .one(db)
        .await
        .unwrap()
        .expect("an open insight about a contact without a company");
    let company = health::clients(db, portal, Subject::Company).await.unwrap()[0];
    let kind = AssociationKind::default_between(ObjectType::Contact, ObjectType::Company).unwrap();
    let edges = [kind.association(lone.subject_id, company), kind.inverse().association(company, lone.subject_id)];
    server::mirror::upsert_associations(db, portal, &edges, now).await.unwrap();

    let health = health::Health::new(db.clone(), Scoring::default());
    let cause = json!({ "kind": "test" });
    let changes = health.records_changed(portal, &[(ObjectType::Contact, lone.subject_id)], &cause).await;
    let resolved = changes.insights.iter().find(|c| c.insight.id == lone.id).expect("the contact's insight resolved");
    assert_eq!(resolved.change, "resolved");
    let open = insight::Entity::find()
        .filter(insight::Column::SubjectType.eq("contact"))
        .filter(insight::Column::SubjectId.eq(lone.subject_id))
        .filter(insight::Column::Status.eq("open"))
        .all(db)
        .await
        .unwrap();
    assert!(open.is_empty(), "{open:?}");
});

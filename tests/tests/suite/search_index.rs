//! `search` follows writes: a record whose searchable fields change is found by the new words, not the old.

use chrono::Duration;
use generator::ObjectType;
use serde_json::{Value, json};
use tests::{Backend, Mirror, on_both};

async fn found_ids(mirror: &Mirror, search: &str) -> Vec<String> {
    let data =
        mirror.data("query($q: String) { contacts(search: $q) { nodes { hubspotId } } }", json!({ "q": search })).await;
    data["contacts"]["nodes"].as_array().unwrap().iter().map(|n| n["hubspotId"].as_str().unwrap().to_owned()).collect()
}

on_both!(search_follows_an_updated_record, |backend: Backend| async move {
    let mirror = Mirror::small(backend).await;
    let mut contact = mirror.portal.contacts[0].clone();
    let id = contact.id.to_string();
    let old_email = contact.properties["email"].clone().expect("generated contacts have an email");
    assert!(found_ids(&mirror, &old_email).await.contains(&id), "found by its email before the change");

    contact.properties.insert("email".into(), Some("quillon.vexmoor@example.org".into()));
    contact.updated_at += Duration::minutes(5);
    let now = chrono::Utc::now();
    server::mirror::upsert_objects(&mirror.db.db, mirror.portal.portal_id, ObjectType::Contact, &[contact], now)
        .await
        .unwrap();

    assert_eq!(found_ids(&mirror, "vexmoor").await, vec![id.clone()], "found by the new word");
    assert!(!found_ids(&mirror, &old_email).await.contains(&id), "no longer found by the old email");
    let email: Value = mirror.data(&format!("{{ contact(id: \"{id}\") {{ email }} }}"), json!({})).await;
    assert_eq!(email["contact"]["email"], "quillon.vexmoor@example.org");
});

//! A query level loaded in bulk reads only the columns its request's fields need; each field, selected alone below an
//! association, answers what it answers when every field is selected (and the row is read whole).

use serde_json::{Value, json};
use tests::{Backend, Mirror, on_both};

/// The scalar fields without arguments of `type_name`, from introspection: a new field is covered once it exists.
async fn scalar_fields(mirror: &Mirror, type_name: &str) -> Vec<String> {
    let query = "query T($name: String!) { __type(name: $name) { fields { name args { name } \
        type { kind ofType { kind } } } } }";
    let data = mirror.data(query, json!({ "name": type_name })).await;
    let scalar = |t: &Value| matches!(t["kind"].as_str(), Some("SCALAR" | "ENUM"));
    data["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["args"].as_array().unwrap().is_empty())
        .filter(|f| scalar(&f["type"]) || (f["type"]["kind"] == "NON_NULL" && scalar(&f["type"]["ofType"])))
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect()
}

/// `(parent id, child id) → child` for `selection` on the children reached by `hop` from the first parents.
async fn children(mirror: &Mirror, parents: &str, hop: &str, selection: &str) -> Vec<Value> {
    let query = format!(
        "{{ {parents}(first: 60) {{ nodes {{ hubspotId {hop}(first: 20) {{ nodes {{ hubspotId {selection} }} }} }} }} }}"
    );
    let data = mirror.data(&query, json!({})).await;
    let mut out = Vec::new();
    for parent in data[parents]["nodes"].as_array().unwrap() {
        for child in parent[hop]["nodes"].as_array().unwrap() {
            out.push(json!({ "parent": parent["hubspotId"], "child": child }));
        }
    }
    out
}

async fn check(mirror: &Mirror, type_name: &str, parents: &str, hop: &str) {
    let fields = scalar_fields(mirror, type_name).await;
    let whole = children(mirror, parents, hop, &fields.join(" ")).await;
    assert!(whole.len() > 20, "{parents}.{hop} reaches {} rows; too few to tell", whole.len());
    let mut never_set = Vec::new();
    for field in &fields {
        let alone = children(mirror, parents, hop, field).await;
        assert_eq!(alone.len(), whole.len(), "{type_name}.{field}: the same rows");
        for (alone, whole) in alone.iter().zip(&whole) {
            let (alone, whole) = (&alone["child"], &whole["child"]);
            assert_eq!(alone["hubspotId"], whole["hubspotId"]);
            assert_eq!(alone[field.as_str()], whole[field.as_str()], "{type_name}.{field} of {}", whole["hubspotId"]);
        }
        if whole.iter().all(|row| row["child"][field.as_str()].is_null()) {
            never_set.push(field.clone());
        }
    }
    // A field null on every row proves nothing; only these are null throughout the generated portal's live rows.
    let allowed = ["archivedAt", "mergedInto"];
    never_set.retain(|f| !allowed.contains(&f.as_str()));
    assert!(never_set.is_empty(), "{type_name}: no row sets {never_set:?}, so the test cannot tell");
}

on_both!(each_field_alone_below_an_association_answers_as_with_the_whole_row, |backend: Backend| async move {
    let mirror = Mirror::small(backend).await;
    check(&mirror, "Contact", "companies", "contacts").await;
    check(&mirror, "Company", "contacts", "companies").await;
    check(&mirror, "Deal", "companies", "deals").await;
    check(&mirror, "Ticket", "companies", "tickets").await;
});

on_both!(a_narrow_level_does_not_answer_a_wider_selection_elsewhere_in_the_request, |backend: Backend| async move {
    let mirror = Mirror::small(backend).await;
    // The same contacts are reached twice: below companies with `email` only, and on their own with `phone`. Both
    // paths share the request's contact cache, so each must hold every column the document reads.
    let query = "{ companies(first: 30) { nodes { contacts(first: 20) { nodes { hubspotId email } } } } \
        contacts(first: 100) { nodes { hubspotId companies(first: 5) { nodes { contacts(first: 20) { nodes { hubspotId phone } } } } } } }";
    let data = mirror.data(query, json!({})).await;
    let reference = "{ contacts(first: 100) { nodes { hubspotId companies(first: 5) { nodes { contacts(first: 20) { nodes { hubspotId phone } } } } } } }";
    let alone = mirror.data(reference, json!({})).await;
    assert_eq!(data["contacts"], alone["contacts"]);
    let phones = alone.to_string().matches("\"phone\":\"").count();
    assert!(phones > 10, "{phones} phones: too few to tell");
});

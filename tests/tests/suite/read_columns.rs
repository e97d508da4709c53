//! A query level loaded in bulk reads only the columns its request's fields need; each field, selected alone at the
//! top of a list or below an association, answers what it answers when every field is selected.

use serde_json::{Value, json};
use tests::{Backend, Mirror, on_both};

/// The named type of a field's type (through non-null), and its kind.
fn named(ty: &Value) -> (&str, &str) {
    let ty = if ty["kind"] == "NON_NULL" { &ty["ofType"] } else { ty };
    (ty["name"].as_str().unwrap_or_default(), ty["kind"].as_str().unwrap_or_default())
}

/// The fields without arguments of `type_name`, from introspection, each with its kind.
async fn fields(mirror: &Mirror, type_name: &str) -> Vec<(String, String, String)> {
    let query = "query T($name: String!) { __type(name: $name) { fields { name args { name } \
        type { kind name ofType { kind name } } } } }";
    let data = mirror.data(query, json!({ "name": type_name })).await;
    data["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["args"].as_array().unwrap().is_empty())
        .map(|f| {
            let (name, kind) = named(&f["type"]);
            (f["name"].as_str().unwrap().to_owned(), kind.to_owned(), name.to_owned())
        })
        .collect()
}

/// What to select of each field of `type_name` without arguments: a scalar as it is, an object with its scalars
/// whose names `type_name` does not also have (a column is read when any field of its name is selected anywhere,
/// so `stage { pipelineId }` would hide that `stage` itself needs the deal's pipeline). A new field is covered once
/// it exists.
async fn selections(mirror: &Mirror, type_name: &str) -> Vec<(String, String)> {
    let scalar = |kind: &str| matches!(kind, "SCALAR" | "ENUM");
    let outer = fields(mirror, type_name).await;
    let mut out = Vec::new();
    for (name, kind, of) in &outer {
        if scalar(kind) {
            out.push((name.clone(), name.clone()));
        } else if kind == "OBJECT" {
            let scalars: Vec<String> =
                fields(mirror, of).await.into_iter().filter(|f| scalar(&f.1)).map(|f| f.0).collect();
            let own: Vec<&String> = scalars.iter().filter(|f| outer.iter().all(|o| &o.0 != *f)).collect();
            let inner = if own.is_empty() { scalars.iter().collect() } else { own };
            let inner: Vec<&str> = inner.into_iter().map(String::as_str).collect();
            out.push((name.clone(), format!("{name} {{ {} }}", inner.join(" "))));
        }
    }
    out
}

/// `(parent id, child) ` for `selection` on the rows of the list `parents`.
async fn roots(mirror: &Mirror, parents: &str, selection: &str) -> Vec<Value> {
    let query = format!("{{ {parents}(first: 60) {{ nodes {{ hubspotId {selection} }} }} }}");
    let data = mirror.data(&query, json!({})).await;
    data[parents]["nodes"].as_array().unwrap().iter().map(|row| json!({ "parent": null, "child": row })).collect()
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

/// Each field of `type_name` selected alone, through `read`, answers as with every field selected.
async fn check<F, Fut>(mirror: &Mirror, type_name: &str, read: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Vec<Value>>,
{
    let fields = selections(mirror, type_name).await;
    let all: Vec<&str> = fields.iter().map(|(_, selection)| selection.as_str()).collect();
    let whole = read(all.join(" ")).await;
    assert!(whole.len() > 20, "{type_name}: {} rows; too few to tell", whole.len());
    let mut never_set = Vec::new();
    for (field, selection) in &fields {
        let alone = read(selection.clone()).await;
        assert_eq!(alone.len(), whole.len(), "{type_name}.{field}: the same rows");
        for (alone, whole) in alone.iter().zip(&whole) {
            assert_eq!(alone["parent"], whole["parent"]);
            let (alone, whole) = (&alone["child"], &whole["child"]);
            assert_eq!(alone["hubspotId"], whole["hubspotId"]);
            assert_eq!(alone[field.as_str()], whole[field.as_str()], "{type_name}.{field} of {}", whole["hubspotId"]);
        }
        if whole.iter().all(|row| row["child"][field.as_str()].is_null()) {
            never_set.push(field.clone());
        }
    }
    // A field null on every row proves nothing; only these are null throughout the generated portal's live rows
    // (the small mirror is never scored).
    let allowed = ["archivedAt", "mergedInto", "healthScore"];
    never_set.retain(|f| !allowed.contains(&f.as_str()));
    assert!(never_set.is_empty(), "{type_name}: no row sets {never_set:?}, so the test cannot tell");
}

on_both!(each_field_alone_below_an_association_answers_as_with_the_whole_row, |backend: Backend| async move {
    let mirror = Mirror::small(backend).await;
    let m = &mirror;
    check(m, "Contact", |s| async move { children(m, "companies", "contacts", &s).await }).await;
    check(m, "Company", |s| async move { children(m, "contacts", "companies", &s).await }).await;
    check(m, "Deal", |s| async move { children(m, "companies", "deals", &s).await }).await;
    check(m, "Ticket", |s| async move { children(m, "companies", "tickets", &s).await }).await;
});

on_both!(each_field_alone_at_the_top_of_a_list_answers_as_with_the_whole_row, |backend: Backend| async move {
    let mirror = Mirror::small(backend).await;
    let m = &mirror;
    check(m, "Contact", |s| async move { roots(m, "contacts", &s).await }).await;
    check(m, "Company", |s| async move { roots(m, "companies", &s).await }).await;
    check(m, "Deal", |s| async move { roots(m, "deals", &s).await }).await;
    check(m, "Ticket", |s| async move { roots(m, "tickets", &s).await }).await;
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

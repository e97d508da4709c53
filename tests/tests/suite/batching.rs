//! DataLoaders keep the number of SQL statements per query independent of the rows it returns.

use serde_json::json;
use tests::{Backend, Mirror, on_both};

const NESTED: &str = r#"
query Nested($first: Int!) {
  companies(first: $first, orderBy: [{field: NAME}]) {
    edges { node {
      name
      owner { email }
      contacts(first: 20) { nodes { email owner { email } properties(names: ["jobtitle"]) } }
      deals(first: 20) { nodes { name amount stage { label probability } pipeline { label stages { label } } owner { email } } }
    } }
  }
}"#;

/// Statements run by one query, and the number of nested rows it returned.
async fn measure(mirror: &Mirror, first: i64) -> (u64, usize) {
    let before = mirror.db.statement_count();
    let data = mirror.data(NESTED, json!({ "first": first })).await;
    let statements = mirror.db.statement_count() - before;
    let companies = data["companies"]["edges"].as_array().unwrap();
    let rows = companies
        .iter()
        .map(|e| {
            1 + e["node"]["contacts"]["nodes"].as_array().unwrap().len()
                + e["node"]["deals"]["nodes"].as_array().unwrap().len()
        })
        .sum();
    (statements, rows)
}

on_both!(nested_query_statements_do_not_grow_with_rows, |backend: Backend| async move {
    let mirror = Mirror::small(backend).await;
    let (few_statements, few_rows) = measure(&mirror, 2).await;
    let (many_statements, many_rows) = measure(&mirror, 50).await;
    assert!(many_rows > few_rows * 10, "the larger query returns many more rows ({few_rows} vs {many_rows})");
    assert_eq!(few_statements, many_statements, "statements must not grow with rows");
    // companies page; contacts and deals, each with its edges; owners once per level (3); the contacts'
    // properties; the deals' pipelines and their stages
    assert!(many_statements <= 9, "{many_statements} statements for a three-level query");
});

on_both!(the_benchmark_query_runs_one_statement_per_table_it_reads, |backend: Backend| async move {
    let mirror = Mirror::small(backend).await;
    let query = "{ companies(first: 50, orderBy: [{field: NAME}]) { edges { node { name \
        contacts(first: 20) { nodes { email firstName lastName } } \
        deals(first: 20) { nodes { name amount stage { label probability } owner { email } } } } } } }";
    let before = mirror.db.statement_count();
    let data = mirror.data(query, json!({})).await;
    let deals = data.to_string().matches("\"probability\"").count();
    assert!(deals > 20, "{deals} deals with a stage: too few to tell");
    // companies; contacts and deals, each with its edges; the deals' owners; their stages (not their pipelines,
    // which nothing selects)
    assert_eq!(mirror.db.statement_count() - before, 5);
});

//! `schema.graphql` is the schema the code serves; regenerate it with `make schema`.

#[test]
fn committed_sdl_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql"))
        .expect("schema.graphql at the workspace root");
    assert!(committed == schema::sdl(), "schema.graphql is stale: run `make schema` and commit it");
}

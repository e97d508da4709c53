//! Mutations write through to HubSpot (the simulator) and into the mirror in the same request: the next query sees
//! the write and HubSpot holds it. Bad input never reaches HubSpot; HubSpot's refusals and outages reach the client
//! with HubSpot's status, category, message and correlation id.

use reqwest::Client;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use tests::{execute, gateway::Gateway, on_both, sim::limits::Chaos};

const PORTAL: i64 = 100_001;

const CREATE_CONTACT: &str = "mutation($input: ContactInput!, $with: [ID!]) {
    createContact(input: $input, associateWith: $with) { id hubspotId email jobTitle companies(first: 5) { nodes { id } } } }";

on_both!(contacts_are_created_updated_and_archived_through_hubspot, |backend| async move {
    let world = Gateway::start(backend, PORTAL).await;
    let (company, _) = world.first("companies").await;
    let (owner, owner_id) = world.first("owners").await;
    let created = world
        .data(
            CREATE_CONTACT,
            json!({ "input": { "email": "ada@example.com", "firstName": "Ada", "jobTitle": "Engineer", "ownerId": owner_id },
                    "with": [company] }),
        )
        .await["createContact"]
        .clone();
    let (id, hubspot_id) = (created["id"].as_str().unwrap(), created["hubspotId"].as_str().unwrap());
    assert_eq!(created["email"], "ada@example.com");
    assert_eq!(created["companies"]["nodes"][0]["id"], company, "the link is in the mirror at once");
    let held = world.at_hubspot("contacts", hubspot_id, "email,jobtitle,hubspot_owner_id").await.unwrap();
    assert_eq!(held["properties"]["email"], "ada@example.com");
    assert_eq!(held["properties"]["hubspot_owner_id"], owner_id);

    let update = "mutation($id: ID!, $input: ContactInput!) { updateContact(id: $id, input: $input) {
        jobTitle leadStatus owner { id } properties(names: [\"hs_lead_status\"]) } }";
    let updated = world
        .data(update, json!({ "id": id, "input": { "jobTitle": "CTO", "properties": { "hs_lead_status": "OPEN" } } }))
        .await["updateContact"]
        .clone();
    assert_eq!(updated["jobTitle"], "CTO");
    assert_eq!(updated["leadStatus"], "OPEN");
    assert_eq!(updated["owner"]["id"], owner, "what the update left alone stays");
    let read = world.data("query($id: ID!) { contact(id: $id) { jobTitle firstName } }", json!({ "id": id })).await;
    assert_eq!(read["contact"], json!({ "jobTitle": "CTO", "firstName": "Ada" }));
    assert_eq!(world.at_hubspot("contacts", hubspot_id, "jobtitle").await.unwrap()["properties"]["jobtitle"], "CTO");

    let archived = world.data("mutation($id: ID!) { archiveContact(id: $id) }", json!({ "id": id })).await;
    assert_eq!(archived["archiveContact"], id);
    let read = world.data("query($id: ID!) { contact(id: $id) { archivedAt } }", json!({ "id": id })).await;
    assert!(read["contact"]["archivedAt"].is_string(), "{read}");
    assert!(world.at_hubspot("contacts", hubspot_id, "email").await.is_none(), "archived at HubSpot");
});

on_both!(deals_companies_and_tickets_are_written_through_hubspot, |backend| async move {
    let world = Gateway::start(backend, PORTAL).await;
    let company = world
        .data(
            "mutation { createCompany(input: { name: \"Initech\", domain: \"initech.example\", numberOfEmployees: 40 }) {
                id hubspotId name domain } }",
            json!({}),
        )
        .await["createCompany"]
        .clone();
    assert_eq!(company["name"], "Initech");
    let deal = world
        .data(
            "mutation($with: [ID!]) { createDeal(input: { name: \"Initech renewal\", amount: 12500.5, stage: \"qualifiedtobuy\",
                closeDate: \"2027-01-31T00:00:00Z\" }, associateWith: $with) {
                id hubspotId name amount stage { id } companies(first: 1) { nodes { name } } } }",
            json!({ "with": [company["id"]] }),
        )
        .await["createDeal"]
        .clone();
    assert_eq!(deal["amount"], 12500.5);
    assert_eq!(deal["stage"]["id"], "qualifiedtobuy");
    assert_eq!(deal["companies"]["nodes"][0]["name"], "Initech");
    let moved = world
        .data(
            "mutation($id: ID!) { moveDealStage(id: $id, stage: \"closedwon\") { stage { id isClosed } isClosed isClosedWon } }",
            json!({ "id": deal["id"] }),
        )
        .await;
    assert_eq!(moved["moveDealStage"]["stage"], json!({ "id": "closedwon", "isClosed": true }));
    // HubSpot calculates the deal's flags from its stage; the mirror takes them from HubSpot's answer.
    assert_eq!(
        (&moved["moveDealStage"]["isClosed"], &moved["moveDealStage"]["isClosedWon"]),
        (&json!(true), &json!(true))
    );
    let held = world.at_hubspot("deals", deal["hubspotId"].as_str().unwrap(), "dealstage,amount").await.unwrap();
    assert_eq!(held["properties"]["dealstage"], "closedwon");
    assert_eq!(held["properties"]["amount"], "12500.5");
    let won = world
        .data(
            "query($id: ID!) { company(id: $id) { deals(first: 5) { nodes { name stage { id } } } } }",
            json!({ "id": company["id"] }),
        )
        .await;
    assert_eq!(won["company"]["deals"]["nodes"][0]["stage"]["id"], "closedwon");
    let renamed = world
        .data(
            "mutation($id: ID!) { updateCompany(id: $id, input: { name: \"Initrode\" }) { name domain } }",
            json!({ "id": company["id"] }),
        )
        .await;
    assert_eq!(renamed["updateCompany"], json!({ "name": "Initrode", "domain": "initech.example" }));

    let ticket = world
        .data(
            "mutation($with: [ID!]) { createTicket(input: { subject: \"Printer on fire\", stage: \"1\", priority: HIGH },
                associateWith: $with) { id hubspotId subject priority pipeline { hubspotId } } }",
            json!({ "with": [company["id"]] }),
        )
        .await["createTicket"]
        .clone();
    assert_eq!(ticket["priority"], "HIGH");
    assert_eq!(ticket["pipeline"]["hubspotId"], "0", "HubSpot's default ticket pipeline");
    let closed = world
        .data(
            "mutation($id: ID!) { updateTicket(id: $id, input: { stage: \"4\" }) { stage { id isClosed } } }",
            json!({ "id": ticket["id"] }),
        )
        .await;
    assert_eq!(closed["updateTicket"]["stage"], json!({ "id": "4", "isClosed": true }));
    for (mutation, record, plural) in [
        ("archiveTicket", &ticket, "tickets"),
        ("archiveDeal", &deal, "deals"),
        ("archiveCompany", &company, "companies"),
    ] {
        let answer =
            world.data(&format!("mutation($id: ID!) {{ {mutation}(id: $id) }}"), json!({ "id": record["id"] })).await;
        assert_eq!(answer[mutation], record["id"]);
        assert!(world.at_hubspot(plural, record["hubspotId"].as_str().unwrap(), "").await.is_none(), "{plural}");
    }
    let gone = world.data("query($id: ID!) { deal(id: $id) { archivedAt } }", json!({ "id": deal["id"] })).await;
    assert!(gone["deal"]["archivedAt"].is_string());
});

on_both!(bad_input_names_the_field_and_never_reaches_hubspot, |backend| async move {
    let world = Gateway::start(backend, PORTAL).await;
    let (deal, _) = world.first("deals").await;
    let (company, _) = world.first("companies").await;
    let before = world.writes();
    let cases = [
        (CREATE_CONTACT, json!({ "input": { "email": "not-an-email" } }), "input.email"),
        (
            CREATE_CONTACT,
            json!({ "input": { "properties": { "hubspotscore": "high" } } }),
            "input.properties.hubspotscore",
        ),
        (CREATE_CONTACT, json!({ "input": { "ownerId": "999999999" } }), "input.ownerId"),
        (
            CREATE_CONTACT,
            json!({ "input": { "email": "x@example.com" }, "with": ["not-a-global-id"] }),
            "associateWith[0]",
        ),
        (
            "mutation($input: DealInput!) { createDeal(input: $input) { id } }",
            json!({ "input": { "name": "No stage" } }),
            "input.stage",
        ),
        (
            "mutation($input: DealInput!) { createDeal(input: $input) { id } }",
            json!({ "input": { "name": "Bad stage", "stage": "nosuchstage" } }),
            "input.stage",
        ),
        (
            "mutation($input: DealInput!) { createDeal(input: $input) { id } }",
            json!({ "input": { "name": "Bad date", "stage": "closedwon", "properties": { "closedate": "next tuesday" } } }),
            "input.properties.closedate",
        ),
        (
            "mutation($input: DealInput!) { createDeal(input: $input) { id } }",
            json!({ "input": { "name": "x", "stage": "closedwon", "properties": { "amount": "lots" } } }),
            "input.properties.amount",
        ),
        (
            "mutation($input: DealInput!) { createDeal(input: $input) { id } }",
            json!({ "input": { "name": "x", "stage": "closedwon", "pipeline": "nosuchpipeline" } }),
            "input.pipeline",
        ),
        ("mutation($id: ID!) { moveDealStage(id: $id, stage: \"1\") { id } }", json!({ "id": deal }), "stage"),
        ("mutation($id: ID!) { moveDealStage(id: $id, stage: \"closedwon\") { id } }", json!({ "id": company }), "id"),
        ("mutation { updateContact(id: \"123456789\", input: { jobTitle: \"x\" }) { id } }", json!({}), "id"),
        ("mutation($id: ID!) { updateDeal(id: $id, input: {}) { id } }", json!({ "id": deal }), "input"),
    ];
    for (query, variables, field) in cases {
        let error = world.error(query, variables.clone()).await;
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{variables}: {error}");
        assert_eq!(error["extensions"]["argument"], field, "{variables}: {error}");
        assert!(error["message"].as_str().unwrap().contains(&format!("`{field}`")), "{error}");
    }
    // An unknown owner, stage or pipeline has the mirror's owners or pipelines re-read first (it may be new at
    // HubSpot); no write is sent.
    assert_eq!(world.writes(), before, "no bad input reached HubSpot");

    // Without a HubSpot connection a write says so.
    let scope = schema::Scope::new(world.db.db.clone(), PORTAL, schema::Role::Admin);
    let response =
        execute(&world.schema, scope, "mutation($id: ID!) { archiveDeal(id: $id) }", json!({ "id": deal })).await;
    assert_eq!(response["errors"][0]["extensions"]["code"], "UPSTREAM_UNAVAILABLE", "{response}");
});

on_both!(hubspot_refusals_and_outages_reach_the_client, |backend| async move {
    let world = Gateway::start(backend, PORTAL).await;
    let (contact, contact_id) = world.first("contacts").await;

    // 400: HubSpot's validation, with its message and category.
    let unknown = json!({ "input": { "email": "new@example.com", "properties": { "no_such_property": "x" } } });
    let error = world.error(CREATE_CONTACT, unknown).await;
    assert_eq!(error["extensions"]["code"], "UPSTREAM_REJECTED");
    assert_eq!(error["extensions"]["status"], 400);
    assert_eq!(error["extensions"]["category"], "VALIDATION_ERROR");
    assert!(error["extensions"]["correlationId"].as_str().is_some_and(|c| !c.is_empty()), "{error}");
    assert!(error["message"].as_str().unwrap().contains("no_such_property"), "{error}");

    // 409: a contact with that email exists.
    let email = world.data("query($id: ID!) { contact(id: $id) { email } }", json!({ "id": contact })).await["contact"]
        ["email"]
        .clone();
    let error = world.error(CREATE_CONTACT, json!({ "input": { "email": email } })).await;
    assert_eq!(error["extensions"]["status"], 409, "{error}");
    assert_eq!(error["extensions"]["category"], "CONFLICT");

    // 404: archived at HubSpot since the mirror last heard.
    let url = format!("{}/crm/v3/objects/contacts/{contact_id}", world.sim.base_url());
    Client::new().delete(url).bearer_auth(world.sim.token()).send().await.unwrap();
    let error = world
        .error(
            "mutation($id: ID!) { updateContact(id: $id, input: { city: \"Oslo\" }) { id } }",
            json!({ "id": contact }),
        )
        .await;
    assert_eq!(error["extensions"]["status"], 404, "{error}");
    assert_eq!(error["extensions"]["category"], "OBJECT_NOT_FOUND");

    // 429, then success: the client waits and retries.
    let (company, company_id) = world.first("companies").await;
    world.sim.sim.set_chaos(Chaos { throttle_next: 1, ..Chaos::default() });
    let renamed = world
        .data(
            "mutation($id: ID!) { updateCompany(id: $id, input: { city: \"Lyon\" }) { city } }",
            json!({ "id": company }),
        )
        .await;
    assert_eq!(renamed["updateCompany"]["city"], "Lyon");

    // An outage: UPSTREAM_UNAVAILABLE, nothing written to the mirror, and queries still answered from it.
    world.sim.sim.set_chaos(Chaos { outage_ms: 60_000, ..Chaos::default() });
    let error = world
        .error(
            "mutation($id: ID!) { updateCompany(id: $id, input: { city: \"Paris\" }) { city } }",
            json!({ "id": company }),
        )
        .await;
    assert_eq!(error["extensions"]["code"], "UPSTREAM_UNAVAILABLE", "{error}");
    assert_eq!(error["extensions"]["status"], 503);
    let read = world.data("query($id: ID!) { company(id: $id) { city } }", json!({ "id": company })).await;
    assert_eq!(read["company"]["city"], "Lyon", "the mirror kept the last accepted write");
    world.sim.sim.set_chaos(Chaos::default());
    let held = world.at_hubspot("companies", &company_id, "city").await.unwrap();
    assert_eq!(held["properties"]["city"], "Lyon");
});

const CREATE_DEAL: &str = "mutation($key: String) {
    createDeal(input: { name: \"Retried\", stage: \"qualifiedtobuy\" }, idempotencyKey: $key) { id } }";

/// Three concurrent creates with one key, then one more: one record, one call to HubSpot; another key, another
/// record; a create that failed leaves its key free for the retry.
async fn creates_once_per_key(gateway: &Gateway) {
    let before = gateway.requests();
    let tries = (0..3).map(|_| gateway.run(CREATE_DEAL, json!({ "key": "order-1" })));
    let answers = futures::future::join_all(tries).await;
    let ids: Vec<&Value> = answers.iter().map(|a| &a["data"]["createDeal"]["id"]).collect();
    assert!(ids[0].is_string(), "{answers:?}");
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let again = gateway.data(CREATE_DEAL, json!({ "key": "order-1" })).await;
    assert_eq!(&again["createDeal"]["id"], ids[0]);
    assert_eq!(gateway.requests(), before + 1, "HubSpot created one deal");
    let other = gateway.data(CREATE_DEAL, json!({ "key": "order-2" })).await;
    assert_ne!(&other["createDeal"]["id"], ids[0]);

    gateway.sim.sim.set_chaos(Chaos { outage_ms: 60_000, ..Chaos::default() });
    let error = gateway.error(CREATE_DEAL, json!({ "key": "order-3" })).await;
    assert_eq!(error["extensions"]["code"], "UPSTREAM_UNAVAILABLE");
    gateway.sim.sim.set_chaos(Chaos::default());
    let retried = gateway.data(CREATE_DEAL, json!({ "key": "order-3" })).await;
    assert!(retried["createDeal"]["id"].is_string());
    let too_long = gateway.error(CREATE_DEAL, json!({ "key": "k".repeat(300) })).await;
    assert_eq!(too_long["extensions"]["argument"], "idempotencyKey");
}

on_both!(a_retried_create_with_the_same_key_makes_one_record, |backend| async move {
    let gateway = Gateway::start(backend, PORTAL).await;
    creates_once_per_key(&gateway).await;
    let held = entities::idempotency_key::Entity::find().count(&gateway.db.db).await.unwrap();
    assert_eq!(held, 3, "the database holds the keys");
});

/// The ids of the records a record links to, as the mirror holds them.
async fn linked(gateway: &Gateway, type_field: &str, id: &Value, list: &str) -> Vec<String> {
    let query = format!("query($id: ID!) {{ {type_field}(id: $id) {{ {list}(first: 50) {{ nodes {{ id }} }} }} }}");
    let data = gateway.data(&query, json!({ "id": id })).await;
    data[type_field][list]["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap().to_owned()).collect()
}

/// HubSpot's type ids of the links from a contact to a company.
async fn types_at_hubspot(gateway: &Gateway, contact: &str, company: &str) -> Vec<i64> {
    let url = format!("{}/crm/v4/objects/contacts/{contact}/associations/companies", gateway.sim.base_url());
    let answer: Value =
        Client::new().get(url).bearer_auth(gateway.sim.token()).send().await.unwrap().json().await.unwrap();
    let results = answer["results"].as_array().unwrap();
    let link = results.iter().find(|r| r["toObjectId"].to_string().trim_matches('"') == company);
    link.map(|l| l["associationTypes"].as_array().unwrap().iter().map(|t| t["typeId"].as_i64().unwrap()).collect())
        .unwrap_or_default()
}

on_both!(links_and_merges_go_through_hubspot, |backend| async move {
    let gateway = Gateway::start(backend, PORTAL).await;
    let new_contact = |email: &str| {
        let email = email.to_owned();
        let gateway = &gateway;
        async move { gateway.data(CREATE_CONTACT, json!({ "input": { "email": email } })).await["createContact"].clone() }
    };
    let (ada, bob) = (new_contact("ada@links.example").await, new_contact("bob@links.example").await);
    let company = gateway
        .data("mutation { createCompany(input: { name: \"Links Ltd\" }) { id hubspotId } }", json!({}))
        .await["createCompany"]
        .clone();
    let (ada_id, company_id) = (ada["hubspotId"].as_str().unwrap(), company["hubspotId"].as_str().unwrap());

    let associate = "mutation($from: ID!, $to: ID!, $label: String) {
        associate(from: $from, to: $to, label: $label) { ... on Contact { email } } }";
    let answer = gateway.data(associate, json!({ "from": ada["id"], "to": company["id"] })).await;
    assert_eq!(answer["associate"]["email"], "ada@links.example");
    assert_eq!(linked(&gateway, "contact", &ada["id"], "companies").await, vec![company["id"].as_str().unwrap()]);
    assert_eq!(linked(&gateway, "company", &company["id"], "contacts").await, vec![ada["id"].as_str().unwrap()]);
    assert_eq!(types_at_hubspot(&gateway, ada_id, company_id).await, vec![279]);
    gateway.data(associate, json!({ "from": ada["id"], "to": company["id"], "label": "Primary" })).await;
    let mut types = types_at_hubspot(&gateway, ada_id, company_id).await;
    types.sort();
    assert_eq!(types, vec![1, 279], "the primary link beside the unlabeled one");

    let (before, writes) = (gateway.requests(), gateway.writes());
    let error = gateway.error(associate, json!({ "from": ada["id"], "to": company["id"], "label": "Partner" })).await;
    assert_eq!(error["extensions"]["argument"], "label", "{error}");
    // A label no mirrored link uses may be defined at HubSpot: one read of its labels API, and nothing written.
    assert_eq!((gateway.requests(), gateway.writes()), (before + 1, writes));
    let before = gateway.requests();
    let error = gateway.error(associate, json!({ "from": ada["id"], "to": ada["id"] })).await;
    assert_eq!(error["extensions"]["argument"], "to", "{error}");
    assert_eq!(gateway.requests(), before, "refused before HubSpot");

    let dissociate = "mutation($from: ID!, $to: ID!) { dissociate(from: $from, to: $to) { id } }";
    gateway.data(dissociate, json!({ "from": company["id"], "to": ada["id"] })).await;
    assert!(linked(&gateway, "contact", &ada["id"], "companies").await.is_empty());
    assert!(linked(&gateway, "company", &company["id"], "contacts").await.is_empty());
    assert!(types_at_hubspot(&gateway, ada_id, company_id).await.is_empty());

    // Bob's link moves to Ada when Bob is merged into her.
    gateway.data(associate, json!({ "from": bob["id"], "to": company["id"] })).await;
    let merge = "mutation($primary: ID!, $merged: ID!) { mergeContacts(primaryId: $primary, mergeId: $merged) {
        id companies(first: 5) { nodes { id } } } }";
    let merged = gateway.data(merge, json!({ "primary": ada["id"], "merged": bob["id"] })).await;
    assert_eq!(merged["mergeContacts"]["id"], ada["id"]);
    assert_eq!(merged["mergeContacts"]["companies"]["nodes"][0]["id"], company["id"]);
    let gone = gateway
        .data("query($id: ID!) { contact(id: $id) { mergedInto archivedAt } }", json!({ "id": bob["id"] }))
        .await;
    assert_eq!(gone["contact"]["mergedInto"], ada["hubspotId"]);
    assert!(gone["contact"]["archivedAt"].is_string());
    let error = gateway.error(merge, json!({ "primary": ada["id"], "merged": ada["id"] })).await;
    assert_eq!(error["extensions"]["argument"], "mergeId");
});

on_both!(the_webhooks_echoing_a_write_change_nothing_and_cost_no_call, |backend| async move {
    use server::webhooks::{
        WebhookStats,
        apply::{Applier, ApplierSettings},
        event::parse_batch,
        log,
    };
    let gateway = Gateway::start(backend, PORTAL).await;
    let created = gateway.data(CREATE_CONTACT, json!({ "input": { "email": "echo@example.com" } })).await;
    let id = created["createContact"]["id"].clone();
    let update = "mutation($id: ID!) { updateContact(id: $id, input: { jobTitle: \"Echo\" }) {
        hubspotId jobTitle updatedAt createdAt } }";
    let written = gateway.data(update, json!({ "id": id })).await["updateContact"].clone();
    let object: i64 = written["hubspotId"].as_str().unwrap().parse().unwrap();
    let ms = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(written[field].as_str().unwrap()).unwrap().timestamp_millis()
    };
    // What HubSpot sends about these two writes.
    let event = |n: i64, kind: &str, at: i64, extra: Value| {
        let mut event = json!({ "eventId": n, "subscriptionId": 1, "portalId": PORTAL, "appId": 1, "occurredAt": at,
            "subscriptionType": kind, "objectId": object, "attemptNumber": 0 });
        event.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap());
        event
    };
    let events = [
        event(1, "contact.creation", ms("createdAt"), json!({})),
        event(
            2,
            "contact.propertyChange",
            ms("createdAt"),
            json!({ "propertyName": "email", "propertyValue": "echo@example.com" }),
        ),
        event(
            3,
            "contact.propertyChange",
            ms("updatedAt"),
            json!({ "propertyName": "jobtitle", "propertyValue": "Echo" }),
        ),
    ];
    log::append(&gateway.db.db, "test", parse_batch(&serde_json::to_vec(&events).unwrap()).unwrap()).await.unwrap();
    let before = gateway.requests();
    let applier = Applier {
        db: gateway.db.db.clone(),
        hubspot: None,
        stats: WebhookStats::default(),
        settings: ApplierSettings::default(),
        health: None,
        reference: Default::default(),
    };
    let pass = applier.drain().await.unwrap();
    assert_eq!((pass.applied, pass.retried, pass.dead), (3, 0, 0), "applied without reading HubSpot");
    assert_eq!(gateway.requests(), before);
    let after = gateway.data("query($id: ID!) { contact(id: $id) { jobTitle updatedAt } }", json!({ "id": id })).await;
    assert_eq!(after["contact"]["jobTitle"], "Echo");
    assert_eq!(after["contact"]["updatedAt"], written["updatedAt"], "the mirror already held this version");
});

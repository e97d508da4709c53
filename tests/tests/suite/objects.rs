//! Single objects by HubSpot id and by global ID, `node`, every scalar field against the generated properties,
//! `properties(names:)`, and the `owner`, `stage` and `pipeline` links.

use crate::common;

use crate::common::{
    CAMPAIGNS, COMPANIES, CONTACTS, CUSTOM_PROPERTY, DEALS, Kind, OWNERS, TICKETS, assert_bad_argument, assert_value,
    find, global_id, ids_of, live, owner_of, parse_time, text, value, walk_forward,
};
use hubspot::{CrmObject, ObjectType, Portal};
use serde_json::{Value, json};
use tests::{Backend, Mirror, on_both};

/// GraphQL field, property it reads, and how.
type Fields = &'static [(&'static str, &'static str, Kind)];

const CONTACT_FIELDS: Fields = &[
    ("email", "email", Kind::Text),
    ("firstName", "firstname", Kind::Text),
    ("lastName", "lastname", Kind::Text),
    ("phone", "phone", Kind::Text),
    ("companyName", "company", Kind::Text),
    ("jobTitle", "jobtitle", Kind::Text),
    ("country", "country", Kind::Text),
    ("city", "city", Kind::Text),
    ("lifecycleStage", "lifecyclestage", Kind::Text),
    ("leadStatus", "hs_lead_status", Kind::Text),
    ("hubspotScore", "hubspotscore", Kind::Int),
    ("lastContactedAt", "notes_last_contacted", Kind::Time),
    ("numNotes", "num_notes", Kind::Int),
    ("emailLastOpenAt", "hs_email_last_open_date", Kind::Time),
    ("emailLastClickAt", "hs_email_last_click_date", Kind::Time),
    ("createdAt", "@created", Kind::Time),
    ("updatedAt", "@updated", Kind::Time),
];

const COMPANY_FIELDS: Fields = &[
    ("name", "name", Kind::Text),
    ("domain", "domain", Kind::Text),
    ("industry", "industry", Kind::Text),
    ("country", "country", Kind::Text),
    ("city", "city", Kind::Text),
    ("numberOfEmployees", "numberofemployees", Kind::Int),
    ("annualRevenue", "annualrevenue", Kind::Float),
    ("lifecycleStage", "lifecyclestage", Kind::Text),
    ("notesLastUpdatedAt", "notes_last_updated", Kind::Time),
    ("totalRevenue", "total_revenue", Kind::Float),
    ("numAssociatedContacts", "num_associated_contacts", Kind::Int),
    ("numAssociatedDeals", "num_associated_deals", Kind::Int),
    ("createdAt", "@created", Kind::Time),
    ("updatedAt", "@updated", Kind::Time),
];

const DEAL_FIELDS: Fields = &[
    ("name", "dealname", Kind::Text),
    ("amount", "amount", Kind::Float),
    ("pipelineId", "pipeline", Kind::Text),
    ("stageId", "dealstage", Kind::Text),
    ("closeDate", "closedate", Kind::Time),
    ("isClosed", "hs_is_closed", Kind::Flag),
    ("isClosedWon", "hs_is_closed_won", Kind::Flag),
    ("probability", "hs_deal_stage_probability", Kind::Float),
    ("createdAt", "@created", Kind::Time),
    ("updatedAt", "@updated", Kind::Time),
];

const TICKET_FIELDS: Fields = &[
    ("subject", "subject", Kind::Text),
    ("content", "content", Kind::Text),
    ("priority", "hs_ticket_priority", Kind::Text),
    ("pipelineId", "hs_pipeline", Kind::Text),
    ("stageId", "hs_pipeline_stage", Kind::Text),
    ("closedAt", "closed_date", Kind::Time),
    ("createdAt", "@created", Kind::Time),
    ("updatedAt", "@updated", Kind::Time),
];

const OWNER_SELECTION: &str = "owner { hubspotId email firstName lastName }";
const PIPELINE_SELECTION: &str =
    "pipeline { hubspotId label objectType } stage { id pipelineId label displayOrder probability isClosed metadata }";

/// The selection of a CRM object's fields, its shared fields and `extra`.
fn selection(fields: Fields, extra: &str) -> String {
    let names: Vec<&str> = fields.iter().map(|f| f.0).collect();
    format!("hubspotId id archivedAt mergedInto syncedAt properties {} {extra}", names.join(" "))
}

fn type_name(object_type: ObjectType) -> &'static str {
    match object_type {
        ObjectType::Contact => "Contact",
        ObjectType::Company => "Company",
        ObjectType::Deal => "Deal",
        ObjectType::Ticket => "Ticket",
        ObjectType::Custom(_) => "CustomObject",
    }
}

/// A CRM node holds every field of `o` and its owner.
fn assert_crm_node(portal: &Portal, node: &Value, o: &CrmObject, object_type: ObjectType, fields: Fields) {
    let what = |field: &str| format!("{} {} `{field}`", type_name(object_type), o.id);
    assert_eq!(node["hubspotId"], json!(o.id.to_string()));
    assert_eq!(node["id"], json!(global_id(type_name(object_type), o.id)), "{}", what("id"));
    for (field, property, kind) in fields {
        assert_value(&node[*field], value(o, property, *kind), &what(field));
    }
    assert_eq!(node["properties"], serde_json::to_value(&o.properties).unwrap(), "{}", what("properties"));
    let archived_at = o.archived.then_some(o.updated_at);
    assert_eq!(node["archivedAt"].as_str().map(parse_time), archived_at, "{}", what("archivedAt"));
    assert!(node["mergedInto"].is_null(), "{}", what("mergedInto"));
    parse_time(node["syncedAt"].as_str().expect("syncedAt"));
    match owner_of(portal, o) {
        Some(owner) => {
            let expected = json!({ "hubspotId": owner.id.to_string(), "email": owner.email,
                                   "firstName": owner.first_name, "lastName": owner.last_name });
            assert_eq!(node["owner"], expected, "{}", what("owner"));
        }
        None => assert!(node["owner"].is_null(), "{}", what("owner")),
    }
}

/// `pipeline` and `stage` of a deal or ticket are the generated pipeline and the stage its property names.
fn assert_pipeline_and_stage(portal: &Portal, node: &Value, o: &CrmObject, pipeline_prop: &str, stage_prop: &str) {
    let pipeline = portal.pipelines.iter().find(|p| Some(&p.id) == text(o, pipeline_prop).as_ref()).unwrap();
    let stage = pipeline.stage(&text(o, stage_prop).unwrap()).unwrap();
    let object_type = if pipeline.object_type == ObjectType::Deal { "deals" } else { "tickets" };
    assert_eq!(
        node["pipeline"],
        json!({ "hubspotId": pipeline.id, "label": pipeline.label, "objectType": object_type })
    );
    let probability = stage.probability().map(|p| p.parse::<f64>().unwrap());
    assert_eq!(node["stage"]["id"], json!(stage.id), "stage of {}", o.id);
    assert_eq!(node["stage"]["pipelineId"], json!(pipeline.id));
    assert_eq!(node["stage"]["label"], json!(stage.label));
    assert_eq!(node["stage"]["displayOrder"], json!(stage.display_order));
    assert_eq!(node["stage"]["probability"].as_f64(), probability, "probability of stage {}", stage.id);
    assert_eq!(node["stage"]["isClosed"], json!(stage.is_closed()));
    assert_eq!(node["stage"]["metadata"], serde_json::to_value(&stage.metadata).unwrap());
}

/// Walks a whole list and checks each node against its generated record; the list holds exactly the live ones.
async fn assert_every_live_record(
    mirror: &Mirror,
    list: &common::List,
    object_type: ObjectType,
    fields: Fields,
    extra: &str,
    check: impl Fn(&Value, &CrmObject),
) {
    let nodes = walk_forward(mirror, list, &selection(fields, extra), &json!({}), 100).await;
    let objects = mirror.portal.objects(object_type);
    let expected: Vec<i64> = live(objects).map(|o| o.id).collect();
    assert_eq!(ids_of(&nodes), expected, "{} lists its live records", list.field);
    for node in &nodes {
        let o = find(objects, node["hubspotId"].as_str().unwrap().parse().unwrap());
        assert_crm_node(&mirror.portal, node, o, object_type, fields);
        check(node, o);
    }
}

on_both!(every_contact_field_reads_its_property, |backend| async move {
    let mirror = common::mirror(backend).await;
    let extra = format!("fullName {OWNER_SELECTION}");
    assert_every_live_record(&mirror, &CONTACTS, ObjectType::Contact, CONTACT_FIELDS, &extra, |node, o| {
        let name: Vec<String> = [text(o, "firstname"), text(o, "lastname")].into_iter().flatten().collect();
        let full = if name.is_empty() { text(o, "email") } else { Some(name.join(" ")) };
        assert_eq!(node["fullName"], json!(full), "fullName of {}", o.id);
    })
    .await;
});

on_both!(every_company_field_reads_its_property, |backend| async move {
    let mirror = common::mirror(backend).await;
    assert_every_live_record(&mirror, &COMPANIES, ObjectType::Company, COMPANY_FIELDS, OWNER_SELECTION, |_, _| {})
        .await;
});

on_both!(every_deal_field_reads_its_property_and_stage, |backend| async move {
    let mirror = common::mirror(backend).await;
    let extra = format!("{OWNER_SELECTION} {PIPELINE_SELECTION}");
    assert_every_live_record(&mirror, &DEALS, ObjectType::Deal, DEAL_FIELDS, &extra, |node, o| {
        assert_pipeline_and_stage(&mirror.portal, node, o, "pipeline", "dealstage");
    })
    .await;
});

on_both!(every_ticket_field_reads_its_property_and_stage, |backend| async move {
    let mirror = common::mirror(backend).await;
    let extra = format!("{OWNER_SELECTION} {PIPELINE_SELECTION}");
    assert_every_live_record(&mirror, &TICKETS, ObjectType::Ticket, TICKET_FIELDS, &extra, |node, o| {
        assert_pipeline_and_stage(&mirror.portal, node, o, "hs_pipeline", "hs_pipeline_stage");
    })
    .await;
});

on_both!(full_name_falls_back_to_the_email, |backend| async move {
    let mirror = common::mirror(backend).await;
    let nameless = &mirror.portal.contacts[5];
    let query = "query($id: ID!) { contact(id: $id) { firstName lastName fullName email } }";
    let data = mirror.data(query, json!({ "id": nameless.id.to_string() })).await;
    assert_eq!(data["contact"]["firstName"], Value::Null);
    assert_eq!(data["contact"]["fullName"], json!(text(nameless, "email").unwrap()));
});

on_both!(owners_and_campaigns_list_every_field, |backend| async move {
    let mirror = common::mirror(backend).await;
    let portal = &mirror.portal;
    let owners = walk_forward(
        &mirror,
        &OWNERS,
        "id hubspotId email firstName lastName userId teams createdAt updatedAt archivedAt",
        &json!({}),
        100,
    )
    .await;
    assert_eq!(owners.len(), portal.owners.len());
    for (node, owner) in owners.iter().zip(&portal.owners) {
        let expected = json!({
            "id": global_id("Owner", owner.id), "hubspotId": owner.id.to_string(), "email": owner.email,
            "firstName": owner.first_name, "lastName": owner.last_name, "userId": owner.user_id.to_string(),
            "teams": serde_json::to_value(&owner.teams).unwrap(), "archivedAt": null,
        });
        for (key, value) in expected.as_object().unwrap() {
            assert_eq!(&node[key], value, "owner {} `{key}`", owner.id);
        }
        assert_eq!(parse_time(node["createdAt"].as_str().unwrap()), owner.created_at);
        assert_eq!(parse_time(node["updatedAt"].as_str().unwrap()), owner.updated_at);
    }

    let campaigns = walk_forward(
        &mirror,
        &CAMPAIGNS,
        "id hubspotId name campaignType status createdAt updatedAt properties(names: [\"name\", \"nope\"])
         stats { sent delivered opened clicked bounced unsubscribed openRate clickRate bounceRate }",
        &json!({}),
        100,
    )
    .await;
    let mut expected = portal.campaigns.clone();
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(campaigns.len(), expected.len());
    for (node, c) in campaigns.iter().zip(&expected) {
        assert_eq!(node["hubspotId"], json!(c.id));
        assert_eq!(node["id"], json!(global_id("Campaign", &c.id)));
        assert_eq!(node["name"], json!(c.name));
        assert_eq!(node["campaignType"], json!(c.campaign_type));
        assert_eq!(node["status"], json!(c.status));
        assert_eq!(node["properties"], json!({ "name": c.name, "nope": null }));
        assert_eq!(parse_time(node["createdAt"].as_str().unwrap()), c.created_at);
        assert_eq!(parse_time(node["updatedAt"].as_str().unwrap()), c.updated_at);
        let s = &c.stats;
        let stats = &node["stats"];
        for (key, n) in [
            ("sent", s.sent),
            ("delivered", s.delivered),
            ("opened", s.opened),
            ("clicked", s.clicked),
            ("bounced", s.bounced),
            ("unsubscribed", s.unsubscribed),
        ] {
            assert_eq!(stats[key], json!(n), "campaign {} {key}", c.id);
        }
        let rate = |part: i64, whole: i64| if whole == 0 { 0.0 } else { part as f64 / whole as f64 };
        common::approx(&stats["openRate"], rate(s.opened, s.delivered), "openRate");
        common::approx(&stats["clickRate"], rate(s.clicked, s.delivered), "clickRate");
        common::approx(&stats["bounceRate"], rate(s.bounced, s.sent), "bounceRate");
    }
});

on_both!(properties_picks_named_raw_strings_and_nulls_for_missing_names, |backend| async move {
    let mirror = common::mirror(backend).await;
    let contact = &mirror.portal.contacts[6];
    let query = r#"query($id: ID!) {
        contact(id: $id) { properties(names: ["email", "hubspotscore", "custom_score", "no_such_property"]) all: properties }
    }"#;
    let data = mirror.data(query, json!({ "id": contact.id.to_string() })).await;
    let expected = json!({
        "email": text(contact, "email"),
        "hubspotscore": text(contact, "hubspotscore"),
        CUSTOM_PROPERTY.0: CUSTOM_PROPERTY.1,
        "no_such_property": null,
    });
    assert_eq!(data["contact"]["properties"], expected);
    assert!(data["contact"]["properties"]["hubspotscore"].is_string(), "numbers stay raw strings");
    assert_eq!(data["contact"]["all"][CUSTOM_PROPERTY.0], json!(CUSTOM_PROPERTY.1), "custom properties are reached");

    let deal = &mirror.portal.deals[0];
    let query = r#"query($id: ID!) { deal(id: $id) { properties(names: ["amount", "dealstage", "missing"]) } }"#;
    let data = mirror.data(query, json!({ "id": deal.id.to_string() })).await;
    assert_eq!(
        data["deal"]["properties"],
        json!({ "amount": text(deal, "amount"), "dealstage": text(deal, "dealstage"), "missing": null })
    );
});

/// One object of each type the root fields reach: root field, type name, HubSpot id, a field and its value.
fn samples(portal: &Portal) -> Vec<(&'static str, &'static str, String, &'static str, Value)> {
    let pick = |objects: &[CrmObject]| live(objects).nth(1).unwrap().clone();
    let (contact, company, deal, ticket) =
        (pick(&portal.contacts), pick(&portal.companies), pick(&portal.deals), pick(&portal.tickets));
    let owner = &portal.owners[1];
    let campaign = &portal.campaigns[1];
    vec![
        ("contact", "Contact", contact.id.to_string(), "email", json!(text(&contact, "email"))),
        ("company", "Company", company.id.to_string(), "name", json!(text(&company, "name"))),
        ("deal", "Deal", deal.id.to_string(), "name", json!(text(&deal, "dealname"))),
        ("ticket", "Ticket", ticket.id.to_string(), "subject", json!(text(&ticket, "subject"))),
        ("owner", "Owner", owner.id.to_string(), "email", json!(owner.email)),
        ("campaign", "Campaign", campaign.id.clone(), "name", json!(campaign.name)),
        ("pipeline", "Pipeline", "renewals".to_owned(), "label", json!("Renewals")),
    ]
}

on_both!(each_object_is_found_by_hubspot_id_and_by_global_id, |backend| async move {
    let mirror = common::mirror(backend).await;
    for (root, type_name, hubspot_id, field, expected) in samples(&mirror.portal) {
        let query = format!("query($id: ID!) {{ {root}(id: $id) {{ id hubspotId {field} }} }}");
        let global = global_id(type_name, &hubspot_id);
        let by_hubspot_id = mirror.data(&query, json!({ "id": hubspot_id })).await;
        let object = &by_hubspot_id[root];
        assert_eq!(object["hubspotId"], json!(hubspot_id), "{root} by HubSpot id");
        assert_eq!(object[field], expected, "{root}.{field}");
        assert_eq!(object["id"], json!(global), "{root}.id is the global ID");
        let by_global = mirror.data(&query, json!({ "id": object["id"] })).await;
        assert_eq!(by_global, by_hubspot_id, "{root} by its `id` value");
    }
});

on_both!(node_resolves_each_type_through_inline_fragments, |backend| async move {
    let mirror = common::mirror(backend).await;
    let query = r#"query($id: ID!) {
        node(id: $id) {
            __typename id
            ... on Contact { hubspotId email }
            ... on Company { hubspotId name }
            ... on Deal { hubspotId name }
            ... on Ticket { hubspotId subject }
            ... on Owner { hubspotId email }
            ... on Campaign { hubspotId name }
            ... on Pipeline { hubspotId label }
        }
    }"#;
    for (root, type_name, hubspot_id, field, expected) in samples(&mirror.portal) {
        let id = global_id(type_name, &hubspot_id);
        let node = &mirror.data(query, json!({ "id": id })).await["node"];
        assert_eq!(node["__typename"], json!(type_name), "node for a {root}");
        assert_eq!(node["id"], json!(id));
        assert_eq!(node["hubspotId"], json!(hubspot_id));
        assert_eq!(node[field], expected, "{type_name}.{field} through the fragment");
    }
});

on_both!(unknown_ids_answer_null, |backend| async move {
    let mirror = common::mirror(backend).await;
    let unknown = [
        ("contact", "999999999".to_owned()),
        ("company", "999999999".to_owned()),
        ("deal", "999999999".to_owned()),
        ("ticket", "999999999".to_owned()),
        ("owner", "999999999".to_owned()),
        ("campaign", "00000000-0000-4000-8000-000000000000".to_owned()),
        ("pipeline", "no-such-pipeline".to_owned()),
        // A global ID of the right type for a record that does not exist.
        ("contact", global_id("Contact", 999_999_999)),
        // A deal's id wrapped as a contact's: no contact has it.
        ("contact", global_id("Contact", mirror.portal.deals[0].id)),
        ("node", global_id("Deal", 999_999_999)),
        ("node", global_id("Pipeline", "no-such-pipeline")),
        ("node", global_id("Widget", 1)),
    ];
    for (root, id) in unknown {
        let query = format!("query($id: ID!) {{ {root}(id: $id) {{ id }} }}");
        let data = mirror.data(&query, json!({ "id": id })).await;
        assert_eq!(data[root], Value::Null, "{root}(id: {id})");
    }
});

on_both!(garbage_ids_are_bad_input_naming_the_id_argument, |backend| async move {
    let mirror = common::mirror(backend).await;
    for root in ["contact", "company", "deal", "ticket", "owner", "node"] {
        for garbage in ["not an id", "12x", ""] {
            let query = format!("query($id: ID!) {{ {root}(id: $id) {{ id }} }}");
            let error = mirror.error(&query, json!({ "id": garbage })).await;
            assert_bad_argument(&error, "id");
        }
    }
});

on_both!(a_global_id_of_another_type_is_refused, |backend| async move {
    let mirror = common::mirror(backend).await;
    let portal = &mirror.portal;
    let cases = [
        ("contact", global_id("Deal", portal.deals[0].id), "Deal"),
        ("company", global_id("Contact", portal.contacts[0].id), "Contact"),
        ("deal", global_id("Company", portal.companies[0].id), "Company"),
        ("ticket", global_id("Owner", portal.owners[0].id), "Owner"),
        ("owner", global_id("Ticket", portal.tickets[0].id), "Ticket"),
        ("campaign", global_id("Pipeline", "default"), "Pipeline"),
        ("pipeline", global_id("Campaign", &portal.campaigns[0].id), "Campaign"),
    ];
    for (root, id, given) in cases {
        let query = format!("query($id: ID!) {{ {root}(id: $id) {{ id }} }}");
        let error = mirror.error(&query, json!({ "id": id })).await;
        assert_bad_argument(&error, "id");
        assert!(error["message"].as_str().unwrap().contains(given), "{root}: {error}");
    }
});

on_both!(an_archived_record_is_found_by_id_with_its_archive_time, |backend| async move {
    let mirror = common::mirror(backend).await;
    let archived = mirror.portal.contacts.iter().find(|c| c.archived).unwrap();
    let query = "query($id: ID!) { contact(id: $id) { hubspotId archivedAt } }";
    let data = mirror.data(query, json!({ "id": archived.id.to_string() })).await;
    assert_eq!(parse_time(data["contact"]["archivedAt"].as_str().unwrap()), archived.updated_at);
});

on_both!(pipelines_list_in_type_and_display_order_with_their_stages, |backend| async move {
    let mirror = common::mirror(backend).await;
    let query = r#"query($type: String) {
        pipelines(objectType: $type) {
            id hubspotId label displayOrder objectType
            stages { id pipelineId label displayOrder probability isClosed metadata }
        }
    }"#;
    let all = mirror.data(query, json!({})).await;
    let ids: Vec<&str> =
        all["pipelines"].as_array().unwrap().iter().map(|p| p["hubspotId"].as_str().unwrap()).collect();
    // "deals" sorts before "tickets"; then display order.
    let mut expected: Vec<&hubspot::Pipeline> = mirror.portal.pipelines.iter().collect();
    expected.sort_by_key(|p| (p.object_type != ObjectType::Deal, p.display_order));
    assert_eq!(ids, expected.iter().map(|p| p.id.as_str()).collect::<Vec<_>>());
    for (node, pipeline) in all["pipelines"].as_array().unwrap().iter().zip(&expected) {
        assert_eq!(node["id"], json!(global_id("Pipeline", &pipeline.id)));
        assert_eq!(node["label"], json!(pipeline.label));
        assert_eq!(node["displayOrder"], json!(pipeline.display_order));
        let stages = node["stages"].as_array().unwrap();
        assert_eq!(stages.len(), pipeline.stages.len());
        for (s, stage) in stages.iter().zip(&pipeline.stages) {
            assert_eq!(s["id"], json!(stage.id));
            assert_eq!(s["pipelineId"], json!(pipeline.id));
            assert_eq!(s["label"], json!(stage.label));
            assert_eq!(s["isClosed"], json!(stage.is_closed()));
            assert_eq!(s["probability"].as_f64(), stage.probability().map(|p| p.parse().unwrap()));
            assert_eq!(s["metadata"], serde_json::to_value(&stage.metadata).unwrap());
        }
    }
    let tickets = mirror.data(query, json!({ "type": "tickets" })).await;
    let ids: Vec<&Value> = tickets["pipelines"].as_array().unwrap().iter().map(|p| &p["hubspotId"]).collect();
    assert_eq!(ids, [&json!(generator::SUPPORT_PIPELINE)]);
    assert_eq!(tickets["pipelines"][0]["objectType"], "tickets");
    let deals = mirror.data(query, json!({ "type": "deals" })).await;
    let ids: Vec<&Value> = deals["pipelines"].as_array().unwrap().iter().map(|p| &p["hubspotId"]).collect();
    assert_eq!(ids, [&json!("default"), &json!("renewals")]);
});

on_both!(a_single_object_resolves_its_owner_stage_and_pipeline, |backend: Backend| async move {
    let mirror = common::mirror(backend).await;
    let portal = &mirror.portal;
    let deal = live(&portal.deals).find(|d| text(d, "pipeline").as_deref() == Some("renewals")).unwrap();
    let query = format!(
        "query($id: ID!) {{ deal(id: $id) {{ {} }} }}",
        selection(DEAL_FIELDS, &format!("{OWNER_SELECTION} {PIPELINE_SELECTION}"))
    );
    let data = mirror.data(&query, json!({ "id": global_id("Deal", deal.id) })).await;
    assert_crm_node(portal, &data["deal"], deal, ObjectType::Deal, DEAL_FIELDS);
    assert_pipeline_and_stage(portal, &data["deal"], deal, "pipeline", "dealstage");
});

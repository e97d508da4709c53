//! The generated records in HubSpot's wire shapes.

use chrono::{TimeZone, Utc};

use crate::{PortalSpec, generate};

fn portal() -> hubspot::Portal {
    let now = Utc.with_ymd_and_hms(2025, 6, 15, 12, 0, 0).unwrap();
    generate(&PortalSpec::sized(7, 7, 50, 10, 20, now))
}

#[test]
fn object_shape() {
    let portal = portal();
    let v = portal.contacts[0].to_hubspot_json();
    assert_eq!(v["id"], "1001");
    assert_eq!(v["archived"], false);
    assert_eq!(v["properties"]["hs_object_id"], "1001");
    assert_eq!(v["properties"]["lastmodifieddate"], v["updatedAt"]);
    assert_eq!(v["properties"]["createdate"], v["createdAt"]);
    assert!(v["createdAt"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn owner_shape() {
    let v = portal().owners[0].to_hubspot_json();
    assert_eq!(v["id"], "70000001");
    assert!(v["userId"].is_i64());
    assert_eq!(v["teams"][0]["primary"], true);
    for key in ["email", "firstName", "lastName", "createdAt", "updatedAt", "archived"] {
        assert!(!v[key].is_null(), "{key}");
    }
}

#[test]
fn pipeline_shape() {
    let portal = portal();
    let v = portal.pipelines[0].to_hubspot_json();
    assert_eq!(v["id"], "default");
    assert_eq!(v["label"], "Sales Pipeline");
    assert_eq!(v["stages"][0]["id"], "appointmentscheduled");
    assert_eq!(v["stages"][0]["metadata"]["probability"], "0.2");
    assert_eq!(v["stages"][0]["metadata"]["isClosed"], "false");
    assert_eq!(v["stages"][5]["metadata"]["isClosed"], "true");
    assert_eq!(v["stages"][6]["displayOrder"], 6);
}

//! HubSpot's JSON wire shapes for generated records, as the v3 CRM and owners APIs return them.

use serde_json::{Value, json};

use crate::model::{CrmObject, Owner, Pipeline, Stage, Team};
use crate::time::iso;

impl CrmObject {
    /// `{"id": "1001", "properties": {...}, "createdAt": ..., "updatedAt": ..., "archived": false}`; ids are
    /// strings on the wire, properties strings or null.
    pub fn to_hubspot_json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "properties": self.properties,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "archived": self.archived,
        })
    }
}

impl Owner {
    /// An entry of `GET /crm/v3/owners`: the id is a string, the user id a number.
    pub fn to_hubspot_json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "email": self.email,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "userId": self.user_id,
            "teams": self.teams.iter().map(Team::to_hubspot_json).collect::<Vec<_>>(),
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "archived": self.archived,
        })
    }
}

impl Team {
    pub fn to_hubspot_json(&self) -> Value {
        json!({ "id": self.id, "name": self.name, "primary": self.primary })
    }
}

impl Pipeline {
    /// An entry of `GET /crm/v3/pipelines/{deals|tickets}`. Stages share the pipeline's timestamps.
    pub fn to_hubspot_json(&self) -> Value {
        let stages: Vec<Value> = self.stages.iter().map(|s| self.stage_json(s)).collect();
        json!({
            "id": self.id,
            "label": self.label,
            "displayOrder": self.display_order,
            "stages": stages,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "archived": self.archived,
        })
    }

    fn stage_json(&self, stage: &Stage) -> Value {
        json!({
            "id": stage.id,
            "label": stage.label,
            "displayOrder": stage.display_order,
            "metadata": stage.metadata,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "archived": self.archived,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use crate::{PortalSpec, generate};

    fn portal() -> crate::Portal {
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
}

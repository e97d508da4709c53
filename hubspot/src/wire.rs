//! HubSpot's JSON wire shapes for generated records, as the v3 CRM and owners APIs return them.

use serde_json::{Value, json};

use crate::{CrmObject, Owner, Pipeline, Stage, Team, iso};

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

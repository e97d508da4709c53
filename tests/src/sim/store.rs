//! The simulator's portals in memory, with HubSpot's semantics: string properties, `updatedAt` bumped on change,
//! archived records hidden unless asked for, merged ids resolving to the survivor, GDPR deletions erased.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use generator::generated_properties;
use hubspot::{
    Association, Campaign, CrmObject, ObjectSchema, ObjectType, Owner, Pipeline, Portal, PropertyDefinition,
    PropertyOption, iso,
};
use serde_json::{Map, Value, json};

use super::{error::SimError, labels::Labels};

mod custom_types;

pub use custom_types::{SCHEMA_CATEGORY, schema_not_found};

/// One record as the simulator keeps it.
#[derive(Clone, Debug)]
pub struct Record {
    pub object: CrmObject,
    pub archived_at: Option<DateTime<Utc>>,
}

impl Record {
    /// HubSpot's object JSON, with only `wanted` properties (all it holds when `None`): each one's value, or null
    /// when the record has none. Callers name only properties the type defines ([`PortalState::readable`]).
    pub fn to_json(&self, wanted: Option<&[String]>) -> Value {
        let properties: Map<String, Value> = match wanted {
            None => self.object.properties.iter().map(|(k, v)| (k.clone(), json!(v))).collect(),
            Some(names) => names
                .iter()
                .map(|name| (name.clone(), json!(self.object.properties.get(name).cloned().flatten())))
                .collect(),
        };
        let mut out = json!({
            "id": self.object.id.to_string(),
            "properties": properties,
            "createdAt": iso(self.object.created_at),
            "updatedAt": iso(self.object.updated_at),
            "archived": self.object.archived,
        });
        if let Some(at) = self.archived_at {
            out["archivedAt"] = json!(iso(at));
        }
        out
    }

    pub fn property(&self, name: &str) -> Option<&str> {
        self.object.properties.get(name).and_then(|v| v.as_deref())
    }
}

/// One labelled type of an association between two records.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AssocType {
    pub category: String,
    pub type_id: i32,
    pub label: Option<String>,
}

impl AssocType {
    pub fn to_json(&self) -> Value {
        json!({ "category": self.category, "typeId": self.type_id, "label": self.label })
    }
}

/// An edge key: from type and id, to type and id.
pub type Edge = (ObjectType, i64, ObjectType, i64);

/// A portal the simulator serves.
#[derive(Debug)]
pub struct PortalState {
    pub portal_id: i64,
    pub name: String,
    records: HashMap<ObjectType, BTreeMap<i64, Record>>,
    emails: Emails,
    /// Ids merged away, pointing at the record that absorbed them.
    merged: HashMap<(ObjectType, i64), i64>,
    /// Both directions of every association, each with the types HubSpot reports for that direction.
    pub associations: BTreeMap<Edge, Vec<AssocType>>,
    /// The association labels the portal's admins defined.
    pub labels: Labels,
    pub owners: Vec<Owner>,
    pub pipelines: Vec<Pipeline>,
    pub campaigns: Vec<Campaign>,
    /// Each type's property definitions, HubSpot's own first, archived ones included.
    pub properties: HashMap<ObjectType, Vec<PropertyDefinition>>,
    /// The portal's custom object types (their properties are in `properties`).
    pub schemas: Vec<ObjectSchema>,
    next_id: HashMap<ObjectType, i64>,
    /// The last id given to a pipeline or stage made at run time.
    last_reference_id: i64,
    /// Webhook events of the changes made, waiting for the sender (HubSpot's shapes, without the app fields).
    pub outbox: Vec<Value>,
    /// Whether changes record webhook events (only when a sender will take them).
    pub sends_webhooks: bool,
}

impl PortalState {
    pub fn new(portal: Portal) -> Self {
        let mut records = HashMap::new();
        let mut next_id = HashMap::new();
        let custom_types = portal.schemas.iter().map(|s| s.object_type);
        for object_type in ObjectType::BUILT_IN.into_iter().chain(custom_types) {
            let rows: BTreeMap<i64, Record> = portal
                .objects(object_type)
                .iter()
                .map(|o| (o.id, Record { object: o.clone(), archived_at: o.archived.then_some(o.updated_at) }))
                .collect();
            let base = match object_type {
                ObjectType::Contact => 1_001,
                ObjectType::Company => 5_000_001,
                ObjectType::Deal => 9_000_001,
                ObjectType::Ticket => 12_000_001,
                ObjectType::Custom(_) => custom_types::CUSTOM_FIRST_ID,
            };
            next_id.insert(object_type, rows.keys().next_back().map_or(base, |id| id + 1));
            records.insert(object_type, rows);
        }
        let mut associations: BTreeMap<Edge, Vec<AssocType>> = BTreeMap::new();
        for a in &portal.associations {
            associations.entry((a.from_type, a.from_id, a.to_type, a.to_id)).or_default().push(assoc_type(a));
        }
        let mut emails = Emails::default();
        for (object_type, rows) in &records {
            for record in rows.values() {
                emails.add(*object_type, record.object.id, record.property("email"));
            }
        }
        let mut properties: HashMap<ObjectType, Vec<PropertyDefinition>> =
            ObjectType::BUILT_IN.into_iter().map(|t| (t, hubspot::default_properties(t))).collect();
        for (object_type, definition) in portal.custom_properties {
            properties.entry(object_type).or_default().push(definition);
        }
        for schema in &portal.schemas {
            let mut defined = hubspot::default_properties(schema.object_type);
            defined.extend(schema.properties.iter().cloned());
            properties.insert(schema.object_type, defined);
        }
        let mut state = Self {
            portal_id: portal.portal_id,
            name: portal.name,
            records,
            emails,
            merged: HashMap::new(),
            associations,
            labels: Labels::new(portal.association_labels),
            owners: portal.owners,
            pipelines: portal.pipelines,
            campaigns: portal.campaigns,
            properties,
            schemas: portal.schemas,
            next_id,
            last_reference_id: 100_000_000,
            outbox: Vec::new(),
            sends_webhooks: false,
        };
        state.refresh_pipeline_options();
        state
    }

    /// A fresh id for a pipeline or stage: HubSpot's are numeric strings.
    pub fn fresh_reference_id(&mut self) -> String {
        self.last_reference_id += 1;
        self.last_reference_id.to_string()
    }

    /// Adds an owner (a user added in HubSpot's settings) with fresh owner and user ids; `updatedAt` is `now`.
    pub fn add_owner(
        &mut self,
        email: &str,
        first_name: &str,
        last_name: &str,
        teams: Vec<hubspot::Team>,
        now: DateTime<Utc>,
    ) -> &Owner {
        let id = self.owners.iter().map(|o| o.id).max().unwrap_or(70_000_000) + 1;
        let user_id = self.owners.iter().map(|o| o.user_id).max().unwrap_or(9_000_000) + 1;
        self.owners.push(Owner {
            id,
            email: email.to_owned(),
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
            user_id,
            teams,
            created_at: to_millis(now),
            updated_at: to_millis(now),
            archived: false,
        });
        self.owners.last().expect("just added")
    }

    /// The live (not archived) definition of a property.
    pub fn definition(&self, object_type: ObjectType, name: &str) -> Option<&PropertyDefinition> {
        self.properties.get(&object_type)?.iter().find(|p| p.name == name && !p.archived)
    }

    /// The names a read asked for that the type defines, in the order asked; HubSpot ignores the others.
    pub fn readable(&self, object_type: ObjectType, names: Vec<String>) -> Vec<String> {
        names.into_iter().filter(|name| self.definition(object_type, name).is_some()).collect()
    }

    /// The options of the pipeline and stage properties follow the portal's pipelines, as HubSpot's do.
    pub fn refresh_pipeline_options(&mut self) {
        let option = |value: &str, label: &str, display_order: i32| PropertyOption {
            label: label.to_owned(),
            value: value.to_owned(),
            display_order,
            hidden: false,
        };
        for (object_type, pipeline_property, stage_property) in
            [(ObjectType::Deal, "pipeline", "dealstage"), (ObjectType::Ticket, "hs_pipeline", "hs_pipeline_stage")]
        {
            let pipelines: Vec<&Pipeline> =
                self.pipelines.iter().filter(|p| p.object_type == object_type && !p.archived).collect();
            let pipeline_options: Vec<PropertyOption> =
                pipelines.iter().zip(0..).map(|(p, i)| option(&p.id, &p.label, i)).collect();
            let stage_options: Vec<PropertyOption> = pipelines
                .iter()
                .flat_map(|p| p.stages.iter().map(move |s| (p, s)))
                .zip(0..)
                .map(|((p, s), i)| option(&s.id, &format!("{} ({})", s.label, p.label), i))
                .collect();
            for definition in self.properties.entry(object_type).or_default() {
                if definition.name == pipeline_property {
                    definition.options = pipeline_options.clone();
                } else if definition.name == stage_property {
                    definition.options = stage_options.clone();
                }
            }
        }
    }

    /// HubSpot's checks of a write: every name defined and not archived (else `PROPERTY_DOESNT_EXIST`), no value
    /// for a property only HubSpot sets (`READ_ONLY_VALUE`), enumeration values among the options (each of `a;b`),
    /// owners known, numbers, bools and dates well formed. An empty value (or null) clears and always passes.
    pub fn check_write(
        &self,
        object_type: ObjectType,
        properties: &BTreeMap<String, Option<String>>,
    ) -> Result<(), SimError> {
        let unknown: Vec<&String> =
            properties.keys().filter(|name| self.definition(object_type, name).is_none()).collect();
        if !unknown.is_empty() {
            return Err(SimError::unknown_properties(&unknown));
        }
        let problems: Vec<Invalid> = properties
            .iter()
            .filter_map(|(name, value)| Some((name, value.as_deref().filter(|v| !v.is_empty())?)))
            .filter_map(|(name, value)| {
                let definition = self.definition(object_type, name).expect("checked above");
                self.check_value(definition, value).err()
            })
            .collect();
        if problems.is_empty() { Ok(()) } else { Err(SimError::invalid_values(&problems)) }
    }

    fn check_value(&self, definition: &PropertyDefinition, value: &str) -> Result<(), Invalid> {
        let name = definition.name.clone();
        let invalid = |code: &'static str, message: String| Invalid { name: name.clone(), code, message };
        if definition.read_only_value || definition.calculated {
            return Err(invalid(
                "READ_ONLY_VALUE",
                format!("\"{name}\" is a read only property; its value cannot be set."),
            ));
        }
        match definition.property_type.as_str() {
            "number" if value.trim().parse::<f64>().is_err() => {
                Err(invalid("INVALID_INTEGER", format!("{value} was not a valid number.")))
            }
            "bool" if value != "true" && value != "false" => {
                Err(invalid("INVALID_OPTION", format!("{value} was not one of the allowed options: [true, false]")))
            }
            "date" | "datetime" if !is_time(value) => Err(invalid(
                "INVALID_DATE",
                format!("{value} is not a valid date: use ISO 8601 or milliseconds since the epoch"),
            )),
            "enumeration" if definition.name == "hubspot_owner_id" => {
                if self.owners.iter().any(|o| o.id.to_string() == value) {
                    Ok(())
                } else {
                    Err(invalid("INVALID_OWNER_ID", format!("{value} is not a valid owner id")))
                }
            }
            // HubSpot keeps the ids it merged away; nobody else writes them.
            "enumeration" if definition.options.is_empty() => Ok(()),
            "enumeration" => match value.split(';').find(|v| definition.option_label(v).is_none()) {
                None => Ok(()),
                Some(bad) => {
                    let allowed: Vec<&str> = definition.options.iter().map(|o| o.value.as_str()).collect();
                    Err(invalid(
                        "INVALID_OPTION",
                        format!("{bad} was not one of the allowed options: [{}]", allowed.join(", ")),
                    ))
                }
            },
            _ => Ok(()),
        }
    }

    /// Records the webhook event of a change.
    fn emit(&mut self, object_type: ObjectType, kind: &str, id: i64, at: DateTime<Utc>, extra: Value) {
        if !self.sends_webhooks {
            return;
        }
        let mut event = json!({
            "portalId": self.portal_id,
            "occurredAt": at.timestamp_millis(),
            "subscriptionType": format!("{}.{kind}", object_type.singular()),
            "objectId": id,
            "changeSource": "CRM",
        });
        // A custom object's events come from HubSpot's generic `object.*` subscriptions, typed by `objectTypeId`.
        if object_type.is_custom() {
            event["subscriptionType"] = json!(format!("object.{kind}"));
            event["objectTypeId"] = json!(object_type.type_id());
        }
        if let (Some(event), Value::Object(extra)) = (event.as_object_mut(), extra) {
            event.extend(extra);
        }
        self.outbox.push(event);
    }

    /// The two events of an association change, one from each side.
    fn emit_association(
        &mut self,
        from: ObjectType,
        from_id: i64,
        to: ObjectType,
        to_id: i64,
        removed: bool,
        primary: bool,
    ) {
        let now = Utc::now();
        for (a, a_id, b, b_id) in [(from, from_id, to, to_id), (to, to_id, from, from_id)] {
            let kind = format!("{}_TO_{}", self.event_name(a), self.event_name(b));
            let mut extra = json!({ "associationType": kind, "fromObjectId": a_id, "toObjectId": b_id,
                                    "associationRemoved": removed, "isPrimaryAssociation": primary });
            // With a custom end, the event names both types by id as HubSpot's generic association events do.
            if a.is_custom() || b.is_custom() {
                extra["fromObjectTypeId"] = json!(a.type_id());
                extra["toObjectTypeId"] = json!(b.type_id());
            }
            self.emit(a, "associationChange", a_id, now, extra);
        }
    }

    /// A type's name in an association event's `associationType` (`CONTACT`, a custom type's schema name `MACHINES`).
    fn event_name(&self, object_type: ObjectType) -> String {
        match self.schemas.iter().find(|s| s.object_type == object_type) {
            Some(schema) => schema.name.to_uppercase(),
            None => object_type.singular().to_uppercase(),
        }
    }

    pub fn records(&self, object_type: ObjectType) -> &BTreeMap<i64, Record> {
        &self.records[&object_type]
    }

    /// The id a request's id stands for: itself, or the survivor of the merge that absorbed it.
    pub fn resolve(&self, object_type: ObjectType, mut id: i64) -> i64 {
        while let Some(survivor) = self.merged.get(&(object_type, id)) {
            id = *survivor;
        }
        id
    }

    /// A record by id, following merges; archived records only when `archived`.
    pub fn get(&self, object_type: ObjectType, id: i64, archived: bool) -> Result<&Record, SimError> {
        let id = self.resolve(object_type, id);
        match self.records[&object_type].get(&id) {
            Some(r) if r.object.archived == archived => Ok(r),
            _ => Err(SimError::not_found(object_type, id)),
        }
    }

    /// A record by the value of a unique property (`email` for contacts, `hs_object_id` for any type).
    pub fn find_by(&self, object_type: ObjectType, property: &str, value: &str) -> Option<i64> {
        if property == "hs_object_id" || property == "id" {
            return value.parse::<i64>().ok().map(|id| self.resolve(object_type, id));
        }
        if property == "email" {
            let rows = &self.records[&object_type];
            return self.emails.ids(object_type, value).find(|id| rows.get(id).is_some_and(|r| !r.object.archived));
        }
        self.records[&object_type]
            .values()
            .find(|r| !r.object.archived && r.property(property).is_some_and(|v| v.eq_ignore_ascii_case(value)))
            .map(|r| r.object.id)
    }

    /// Creates a record from client properties; HubSpot fills in the id and the timestamps.
    pub fn create(
        &mut self,
        object_type: ObjectType,
        mut properties: BTreeMap<String, Option<String>>,
        now: DateTime<Utc>,
    ) -> Result<&Record, SimError> {
        self.check_write(object_type, &properties)?;
        self.check_required(object_type, &properties)?;
        self.calculate(object_type, None, &mut properties);
        if object_type == ObjectType::Contact
            && let Some(email) = properties.get("email").and_then(|v| v.as_deref())
            && let Some(existing) = self.find_by(object_type, "email", email)
        {
            return Err(SimError::conflict(format!("Contact already exists. Existing ID: {existing}")));
        }
        let now = to_millis(now);
        let id = self.next_id[&object_type];
        self.next_id.insert(object_type, id + 1);
        let mut props: BTreeMap<String, Option<String>> =
            generated_properties(object_type).iter().map(|name| (name.to_string(), None)).collect();
        props.extend(properties);
        props.insert("hs_object_id".into(), Some(id.to_string()));
        // Custom objects carry HubSpot's `hs_createdate`; the built-in types their historical `createdate`.
        let created = if object_type.is_custom() { "hs_createdate" } else { "createdate" };
        props.insert(created.into(), Some(iso(now)));
        props.insert(object_type.last_modified_property().into(), Some(iso(now)));
        let object = CrmObject { id, properties: props, created_at: now, updated_at: now, archived: false };
        self.emit(object_type, "creation", id, now, json!({ "changeFlag": "CREATED" }));
        let rows = self.records.get_mut(&object_type).expect("every type has a table");
        let record = rows.entry(id).or_insert(Record { object, archived_at: None });
        self.emails.add(object_type, id, record.property("email"));
        Ok(record)
    }

    /// HubSpot's calculated properties that follow from the ones set: a deal's closed and won flags and its
    /// probability come from its stage (in its pipeline, or the one it is moving to).
    fn calculate(&self, object_type: ObjectType, id: Option<i64>, properties: &mut BTreeMap<String, Option<String>>) {
        if object_type != ObjectType::Deal {
            return;
        }
        let Some(Some(stage)) = properties.get("dealstage").cloned() else { return };
        let current = |name: &str| {
            id.and_then(|id| self.records.get(&object_type)?.get(&id)?.object.properties.get(name).cloned().flatten())
        };
        let pipeline = properties.get("pipeline").cloned().flatten().or_else(|| current("pipeline"));
        let Some(stage) = self
            .pipelines
            .iter()
            .filter(|p| p.object_type == ObjectType::Deal && pipeline.as_ref().is_none_or(|id| *id == p.id))
            .flat_map(|p| &p.stages)
            .find(|s| s.id == stage)
        else {
            return;
        };
        properties.insert("hs_is_closed".into(), Some(stage.is_closed().to_string()));
        properties.insert("hs_is_closed_won".into(), Some(stage.is_won().to_string()));
        properties.insert("hs_deal_stage_probability".into(), stage.probability().map(str::to_owned));
    }

    /// Sets properties of a live record; `updatedAt` moves only when a value changed.
    pub fn update(
        &mut self,
        object_type: ObjectType,
        id: i64,
        mut properties: BTreeMap<String, Option<String>>,
        now: DateTime<Utc>,
    ) -> Result<&Record, SimError> {
        self.check_write(object_type, &properties)?;
        let id = self.resolve(object_type, id);
        self.calculate(object_type, Some(id), &mut properties);
        let record = self.live_mut(object_type, id)?;
        let changed: Vec<(String, Option<String>)> = properties
            .iter()
            .filter(|(k, v)| record.object.properties.get(*k) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let old_email = record.property("email").map(str::to_owned);
        record.object.properties.extend(properties);
        let new_email = record.property("email").map(str::to_owned);
        if !changed.is_empty() {
            touch(record, object_type, now);
        }
        let at = record.object.updated_at;
        if old_email != new_email {
            self.emails.remove(object_type, id, old_email.as_deref());
            self.emails.add(object_type, id, new_email.as_deref());
        }
        for (name, value) in changed {
            let extra = json!({ "propertyName": name, "propertyValue": value.unwrap_or_default() });
            self.emit(object_type, "propertyChange", id, at, extra);
        }
        self.get(object_type, id, false)
    }

    /// Archives a live record (HubSpot's `DELETE`); its associations stay, hidden with it.
    pub fn archive(&mut self, object_type: ObjectType, id: i64, now: DateTime<Utc>) -> Result<(), SimError> {
        let id = self.resolve(object_type, id);
        let record = self.live_mut(object_type, id)?;
        record.object.archived = true;
        record.archived_at = Some(now);
        touch(record, object_type, now);
        let at = record.object.updated_at;
        self.emit(object_type, "deletion", id, at, json!({ "changeFlag": "DELETED" }));
        Ok(())
    }

    /// Brings an archived record back (HubSpot's recycle bin); its `updatedAt` moves.
    pub fn restore(&mut self, object_type: ObjectType, id: i64, now: DateTime<Utc>) -> Result<(), SimError> {
        let rows = self.records.get_mut(&object_type).expect("every type has a table");
        let record = rows.get_mut(&id).filter(|r| r.object.archived).ok_or(SimError::not_found(object_type, id))?;
        record.object.archived = false;
        record.archived_at = None;
        touch(record, object_type, now);
        let at = record.object.updated_at;
        self.emit(object_type, "restore", id, at, json!({}));
        Ok(())
    }

    /// Merges `merged` into `primary`: the merged id resolves to the survivor from now on, its associations move
    /// over, and the survivor lists it in `hs_merged_object_ids`.
    pub fn merge(
        &mut self,
        object_type: ObjectType,
        primary: i64,
        merged: i64,
        now: DateTime<Utc>,
    ) -> Result<&Record, SimError> {
        let (primary, merged) = (self.resolve(object_type, primary), self.resolve(object_type, merged));
        if primary == merged {
            return Err(SimError::validation("Cannot merge an object with itself"));
        }
        self.live_mut(object_type, merged)?;
        self.live_mut(object_type, primary)?;
        let gone = self.records.get_mut(&object_type).and_then(|rows| rows.remove(&merged)).expect("checked above");
        self.emails.remove(object_type, merged, gone.property("email"));
        self.merged.insert((object_type, merged), primary);
        let moved: Vec<(Edge, Vec<AssocType>)> = self
            .associations
            .iter()
            .filter(|((ft, fid, tt, tid), _)| {
                (*ft == object_type && *fid == merged) || (*tt == object_type && *tid == merged)
            })
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        for ((ft, fid, tt, tid), types) in moved {
            self.associations.remove(&(ft, fid, tt, tid));
            let swap = |t: ObjectType, id: i64| if t == object_type && id == merged { primary } else { id };
            let key = (ft, swap(ft, fid), tt, swap(tt, tid));
            if key.1 != key.3 || ft != tt {
                let entry = self.associations.entry(key).or_default();
                for t in types {
                    if !entry.contains(&t) {
                        entry.push(t);
                    }
                }
            }
        }
        let record = self.live_mut(object_type, primary)?;
        let mut ids: Vec<String> = record
            .property("hs_merged_object_ids")
            .map(|v| v.split(';').filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        ids.push(gone.object.id.to_string());
        record.object.properties.insert("hs_merged_object_ids".into(), Some(ids.join(";")));
        touch(record, object_type, now);
        let at = record.object.updated_at;
        let extra = json!({ "primaryObjectId": primary, "mergedObjectIds": [merged], "newObjectId": primary,
                            "numberOfPropertiesMoved": 0 });
        self.emit(object_type, "merge", primary, at, extra);
        self.get(object_type, primary, false)
    }

    /// Erases a contact and everything that points at it (GDPR): no tombstone is left.
    pub fn erase(&mut self, object_type: ObjectType, id: i64) -> Result<(), SimError> {
        let id = self.resolve(object_type, id);
        let rows = self.records.get_mut(&object_type).expect("every type has a table");
        let gone = rows.remove(&id).ok_or(SimError::not_found(object_type, id))?;
        self.emails.remove(object_type, id, gone.property("email"));
        self.associations.retain(|(ft, fid, tt, tid), _| {
            !((*ft == object_type && *fid == id) || (*tt == object_type && *tid == id))
        });
        // HubSpot sends both, in any order.
        let now = Utc::now();
        self.emit(object_type, "deletion", id, now, json!({ "changeFlag": "DELETED" }));
        self.emit(object_type, "privacyDeletion", id, now, json!({}));
        Ok(())
    }

    /// The associations of one record towards one type, in target id order.
    pub fn associations_of(&self, from: ObjectType, id: i64, to: ObjectType) -> Vec<(i64, &[AssocType])> {
        self.associations
            .range((from, id, to, i64::MIN)..=(from, id, to, i64::MAX))
            .filter(|((_, _, _, to_id), _)| self.records[&to].get(to_id).is_some_and(|r| !r.object.archived))
            .map(|((_, _, _, to_id), types)| (*to_id, types.as_slice()))
            .collect()
    }

    /// Adds association types in both directions, each completed with its category and label; the other direction
    /// gets the inverse type id and label. A type not defined between the two types is HubSpot's 400, and nothing
    /// is added.
    pub fn associate(
        &mut self,
        from: ObjectType,
        from_id: i64,
        to: ObjectType,
        to_id: i64,
        types: &[AssocType],
    ) -> Result<(), SimError> {
        let (from_id, to_id) = (self.resolve(from, from_id), self.resolve(to, to_id));
        self.get(from, from_id, false)?;
        self.get(to, to_id, false)?;
        // A custom end's links are its schema's types; the others HubSpot's own or the portal's labels.
        let resolved: Vec<(AssocType, AssocType)> = types
            .iter()
            .map(|t| {
                if from.is_custom() || to.is_custom() {
                    self.custom_pair(from, to, t)
                } else {
                    self.labels.resolve(from, to, t)
                }
            })
            .collect::<Result<_, _>>()?;
        for (forward, inverse) in resolved {
            let primary = forward.label.as_deref() == Some("Primary");
            let mut added = false;
            for (key, t) in [((from, from_id, to, to_id), forward), ((to, to_id, from, from_id), inverse)] {
                let entry = self.associations.entry(key).or_default();
                if !entry.contains(&t) {
                    entry.push(t);
                    entry.sort();
                    added = true;
                }
            }
            if added {
                self.emit_association(from, from_id, to, to_id, false, primary);
            }
        }
        Ok(())
    }

    /// The labels of the links between two records, from `from`'s side: what HubSpot's PUT answers.
    pub fn labels_between(&self, from: ObjectType, from_id: i64, to: ObjectType, to_id: i64) -> Vec<String> {
        let (from_id, to_id) = (self.resolve(from, from_id), self.resolve(to, to_id));
        let types = self.associations.get(&(from, from_id, to, to_id));
        types.into_iter().flatten().filter_map(|t| t.label.clone()).collect()
    }

    /// Whether any link, live or archived, uses type `type_id` from `from` to `to`.
    pub fn type_in_use(&self, from: ObjectType, to: ObjectType, type_id: i32) -> bool {
        self.associations
            .iter()
            .any(|((ft, _, tt, _), types)| (*ft, *tt) == (from, to) && types.iter().any(|t| t.type_id == type_id))
    }

    /// Gives every link of type `type_id` from `from` to `to` its new label, as HubSpot reports a renamed label.
    pub fn relabel(&mut self, from: ObjectType, to: ObjectType, type_id: i32, label: &str) {
        let links = self.associations.iter_mut().filter(|((ft, _, tt, _), _)| (*ft, *tt) == (from, to));
        for t in links.flat_map(|(_, types)| types.iter_mut()).filter(|t| t.type_id == type_id) {
            t.label = Some(label.to_owned());
        }
    }

    /// Removes every association between two records, both directions.
    pub fn dissociate(&mut self, from: ObjectType, from_id: i64, to: ObjectType, to_id: i64) {
        let (from_id, to_id) = (self.resolve(from, from_id), self.resolve(to, to_id));
        let forward = self.associations.remove(&(from, from_id, to, to_id));
        let backward = self.associations.remove(&(to, to_id, from, from_id));
        if forward.is_some() || backward.is_some() {
            self.emit_association(from, from_id, to, to_id, true, false);
        }
    }

    fn live_mut(&mut self, object_type: ObjectType, id: i64) -> Result<&mut Record, SimError> {
        let rows = self.records.get_mut(&object_type).expect("every type has a table");
        rows.get_mut(&id).filter(|r| !r.object.archived).ok_or(SimError::not_found(object_type, id))
    }
}

/// Records by type and lower-cased email, archived ones included (a lookup skips them): a create's check that a
/// contact's email is new is then a lookup, where a scan of every contact made creating many contacts quadratic.
#[derive(Debug, Default)]
struct Emails(HashMap<(ObjectType, String), BTreeSet<i64>>);

impl Emails {
    fn key(object_type: ObjectType, email: &str) -> (ObjectType, String) {
        (object_type, email.to_ascii_lowercase())
    }

    fn add(&mut self, object_type: ObjectType, id: i64, email: Option<&str>) {
        if let Some(email) = email {
            self.0.entry(Self::key(object_type, email)).or_default().insert(id);
        }
    }

    fn remove(&mut self, object_type: ObjectType, id: i64, email: Option<&str>) {
        let Some(key) = email.map(|email| Self::key(object_type, email)) else { return };
        if let Some(ids) = self.0.get_mut(&key) {
            ids.remove(&id);
            if ids.is_empty() {
                self.0.remove(&key);
            }
        }
    }

    fn ids(&self, object_type: ObjectType, email: &str) -> impl Iterator<Item = i64> + '_ {
        self.0.get(&Self::key(object_type, email)).into_iter().flatten().copied()
    }
}

/// HubSpot keeps times to the millisecond: a version and the events after it never share one.
fn to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

fn touch(record: &mut Record, object_type: ObjectType, now: DateTime<Utc>) {
    // Two changes within one millisecond still move `updatedAt` forward, as a sync cursor relies on.
    let now = to_millis(now);
    let now = if now <= record.object.updated_at {
        record.object.updated_at + chrono::Duration::milliseconds(1)
    } else {
        now
    };
    record.object.updated_at = now;
    record.object.properties.insert(object_type.last_modified_property().into(), Some(iso(now)));
}

fn assoc_type(a: &Association) -> AssocType {
    AssocType { category: a.category.clone(), type_id: a.type_id, label: a.label.clone() }
}

/// One value HubSpot would refuse: the property, HubSpot's error code and its message.
#[derive(Debug, Clone)]
pub struct Invalid {
    pub name: String,
    pub code: &'static str,
    pub message: String,
}

/// A date or time as HubSpot takes them: milliseconds since the epoch, an ISO 8601 instant or a calendar date.
fn is_time(value: &str) -> bool {
    value.parse::<i64>().is_ok()
        || DateTime::parse_from_rfc3339(value).is_ok()
        || chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok()
}

/// Property values from a client's JSON: HubSpot accepts numbers and booleans and keeps them as strings.
pub fn properties_from_json(value: Option<&Value>) -> Result<BTreeMap<String, Option<String>>, SimError> {
    let Some(value) = value else { return Ok(BTreeMap::new()) };
    let map = value.as_object().ok_or_else(|| SimError::validation("properties must be an object"))?;
    map.iter()
        .map(|(k, v)| {
            let text = match v {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => return Err(SimError::validation(format!("Property values must be strings, not {v} for {k}"))),
            };
            Ok((k.clone(), text))
        })
        .collect()
}

/// `contacts` → Contact, the plural names of HubSpot's paths (and the object type ids `0-1`…); a portal's custom
/// types resolve through it ([`PortalState::object_type`]).
pub fn object_type(path: &str) -> Result<ObjectType, SimError> {
    match path {
        "contacts" | "contact" | "0-1" => Ok(ObjectType::Contact),
        "companies" | "company" | "0-2" => Ok(ObjectType::Company),
        "deals" | "deal" | "0-3" => Ok(ObjectType::Deal),
        "tickets" | "ticket" | "0-5" => Ok(ObjectType::Ticket),
        other => Err(SimError::bad_object_type(other)),
    }
}

/// HubSpot's object type id (`0-1` for contacts).
pub fn type_id(object_type: ObjectType) -> &'static str {
    object_type.type_id()
}

//! The webhook traffic of a busy portal, as HubSpot delivers it: which kinds of event, about which records.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

use hubspot::{ObjectType, Portal};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use rand_distr::{Distribution, Zipf};
use serde_json::{Value, json};

use crate::PORTAL;

/// What an event does, as the report counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A property some health score reads.
    ScoringChange,
    /// A property no score reads.
    OtherChange,
    Creation,
    /// One side of an association added or removed.
    Association,
    Deletion,
    Merge,
}

impl Kind {
    pub const ALL: [Kind; 6] =
        [Kind::ScoringChange, Kind::OtherChange, Kind::Creation, Kind::Association, Kind::Deletion, Kind::Merge];

    pub fn label(self) -> &'static str {
        match self {
            Kind::ScoringChange => "property changes read by scores",
            Kind::OtherChange => "other property changes",
            Kind::Creation => "creations",
            Kind::Association => "association changes (2 events each)",
            Kind::Deletion => "deletions",
            Kind::Merge => "contact merges",
        }
    }
}

/// The events of every delivery of 100, by kind. A busy portal's traffic is mostly property changes (reps editing
/// records, workflows and integrations setting fields; one event per property): about a third of them touch what
/// health scores read (lifecycle stage, last contact, notes and email activity; deal amount and stage), the rest
/// contact details and the like. Forms and imports create records; linking contacts, companies and deals is next
/// (6 links or unlinks, each sent as 2 events, one per side); clean-ups delete records and merge duplicates.
pub const MIX: [(Kind, usize); 6] = [
    (Kind::ScoringChange, 25),
    (Kind::OtherChange, 45),
    (Kind::Creation, 10),
    (Kind::Association, 12),
    (Kind::Deletion, 6),
    (Kind::Merge, 2),
];

/// Events per delivery: HubSpot's most.
pub const BATCH: usize = 100;

/// Zipf's exponent over each type's records: at 1 the hottest 1% of the records draw 40-55% of the events (the
/// fewer the records, the less), as a portal's open deals and active leads do while most records sit untouched.
const EXPONENT: f64 = 1.0;

/// Share of each type's records kept out of changes and links: deletions pick among the first half (uniformly; a
/// record deleted twice stands for a redelivery), merges absorb contacts of the second half.
const COLD_SHARE: f64 = 0.2;

/// Properties some health score reads (`server::health::inputs::reads_property`), and ones none reads.
fn properties(object_type: ObjectType, scoring: bool) -> &'static [&'static str] {
    match (object_type, scoring) {
        (ObjectType::Contact, true) => {
            &["lifecyclestage", "notes_last_contacted", "num_notes", "hs_email_last_open_date"]
        }
        (ObjectType::Company, true) => &["lifecyclestage", "notes_last_updated"],
        (ObjectType::Deal, true) => &["amount", "dealstage"],
        (ObjectType::Contact, false) => &["jobtitle", "phone", "city", "hs_lead_status", "lastname"],
        (ObjectType::Company, false) => &["industry", "domain", "numberofemployees", "city"],
        _ => &["dealname", "closedate", "dealtype"],
    }
}

const LIFECYCLE: &[&str] =
    &["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer"];

/// One type's records, as the traffic picks them.
struct Records {
    object_type: ObjectType,
    /// Records changes and links pick from, hottest first.
    hot: Vec<i64>,
    zipf: Zipf<f64>,
    /// Records deletions pick from.
    doomed: Vec<i64>,
    /// Contacts merges absorb.
    absorbed: Vec<i64>,
    /// Records made in HubSpot beforehand, which creation events announce in turn.
    created: Vec<i64>,
    next_created: AtomicUsize,
}

impl Records {
    fn new(object_type: ObjectType, mut ids: Vec<i64>, created: Vec<i64>, rng: &mut StdRng) -> Self {
        // Hot records anywhere in the portal, not its first-generated ones.
        ids.shuffle(rng);
        let cold = (ids.len() as f64 * COLD_SHARE) as usize;
        let absorbed = ids.split_off(ids.len() - cold / 2);
        let doomed = ids.split_off(ids.len() - cold / 2);
        let zipf = Zipf::new(ids.len() as f64, EXPONENT).expect("records to pick from");
        Self { object_type, hot: ids, zipf, doomed, absorbed, created, next_created: AtomicUsize::new(0) }
    }

    fn pick(&self, rng: &mut StdRng) -> i64 {
        let rank = self.zipf.sample(rng) as usize;
        self.hot[rank.clamp(1, self.hot.len()) - 1]
    }

    /// The next record made for a creation event; past the last, the first again (then the mirror holds it and the
    /// event needs no read: [`Traffic::creations_reused`] counts them).
    fn next_created(&self, reused: &AtomicU64) -> i64 {
        let n = self.next_created.fetch_add(1, Ordering::Relaxed);
        if n >= self.created.len() {
            reused.fetch_add(1, Ordering::Relaxed);
        }
        self.created[n % self.created.len()]
    }
}

/// Events for every sender, each with a unique `eventId`.
pub struct Traffic {
    contacts: Records,
    companies: Records,
    deals: Records,
    /// Deal stages the mirror knows.
    stages: Vec<String>,
    next_event: AtomicI64,
    sent: [AtomicU64; Kind::ALL.len()],
    reused: AtomicU64,
}

impl Traffic {
    /// Traffic over `portal`'s live records, its creation events announcing `created` (contacts, companies, deals).
    pub fn new(portal: &Portal, [contacts, companies, deals]: [Vec<i64>; 3]) -> Self {
        let mut rng = StdRng::seed_from_u64(7);
        let live = |records: &[hubspot::CrmObject]| records.iter().filter(|r| !r.archived).map(|r| r.id).collect();
        let stages = portal
            .pipelines
            .iter()
            .filter(|p| p.object_type == ObjectType::Deal)
            .flat_map(|p| p.stages.iter().map(|s| s.id.clone()))
            .collect();
        Self {
            contacts: Records::new(ObjectType::Contact, live(&portal.contacts), contacts, &mut rng),
            companies: Records::new(ObjectType::Company, live(&portal.companies), companies, &mut rng),
            deals: Records::new(ObjectType::Deal, live(&portal.deals), deals, &mut rng),
            stages,
            next_event: AtomicI64::new(1),
            sent: Default::default(),
            reused: AtomicU64::new(0),
        }
    }

    /// Events sent of `kind` so far.
    pub fn sent(&self, kind: Kind) -> u64 {
        self.sent[kind as usize].load(Ordering::Relaxed)
    }

    /// Creation events that announced a record an earlier one had (the records made beforehand ran out).
    pub fn creations_reused(&self) -> u64 {
        self.reused.load(Ordering::Relaxed)
    }

    /// A delivery: [`BATCH`] events in the proportions of [`MIX`], in random order (HubSpot keeps none).
    pub fn batch(&self, rng: &mut StdRng) -> Vec<Value> {
        let first = self.next_event.fetch_add(BATCH as i64, Ordering::Relaxed);
        let now = chrono::Utc::now().timestamp_millis();
        let mut events = Vec::with_capacity(BATCH);
        for (kind, count) in MIX {
            self.sent[kind as usize].fetch_add(count as u64, Ordering::Relaxed);
            let mut made = 0;
            while made < count {
                made += self.add(kind, rng, now, &mut events);
            }
        }
        events.shuffle(rng);
        for (n, event) in events.iter_mut().enumerate() {
            event["eventId"] = json!(first + n as i64);
        }
        events
    }

    /// Events of one `kind` (two for an association change) added to `events`; how many.
    fn add(&self, kind: Kind, rng: &mut StdRng, now: i64, events: &mut Vec<Value>) -> usize {
        match kind {
            Kind::ScoringChange | Kind::OtherChange => {
                // Contacts draw most edits, deals next.
                let records = self.weighted(rng, [55, 15, 30]);
                let names = properties(records.object_type, kind == Kind::ScoringChange);
                let name = names[rng.random_range(0..names.len())];
                let id = records.pick(rng);
                let value = self.value(name, rng, now);
                events.push(event(
                    records.object_type,
                    "propertyChange",
                    id,
                    now,
                    json!({
                    "propertyName": name, "propertyValue": value, "changeSource": "CRM" }),
                ));
                1
            }
            Kind::Creation => {
                let records = self.weighted(rng, [60, 15, 25]);
                let id = records.next_created(&self.reused);
                events.push(event(records.object_type, "creation", id, now, json!({ "changeFlag": "CREATED" })));
                1
            }
            Kind::Association => {
                // Contact–company, deal–company, deal–contact.
                let (from, to) = match rng.random_range(0..10) {
                    0..4 => (&self.contacts, &self.companies),
                    4..7 => (&self.deals, &self.companies),
                    _ => (&self.deals, &self.contacts),
                };
                let (from_id, to_id) = (from.pick(rng), to.pick(rng));
                let removed = rng.random_bool(0.25);
                for ((a, a_id), (b, b_id)) in [((from, from_id), (to, to_id)), ((to, to_id), (from, from_id))] {
                    let association = format!(
                        "{}_TO_{}",
                        a.object_type.singular().to_uppercase(),
                        b.object_type.singular().to_uppercase()
                    );
                    events.push(event(
                        a.object_type,
                        "associationChange",
                        a_id,
                        now,
                        json!({
                        "associationType": association, "fromObjectId": a_id, "toObjectId": b_id,
                        "associationRemoved": removed, "isPrimaryAssociation": false }),
                    ));
                }
                2
            }
            Kind::Deletion => {
                let records = self.weighted(rng, [60, 10, 30]);
                let id = records.doomed[rng.random_range(0..records.doomed.len())];
                events.push(event(records.object_type, "deletion", id, now, json!({ "changeFlag": "DELETED" })));
                1
            }
            Kind::Merge => {
                let primary = self.contacts.pick(rng);
                let absorbed = self.contacts.absorbed[rng.random_range(0..self.contacts.absorbed.len())];
                events.push(event(
                    ObjectType::Contact,
                    "merge",
                    primary,
                    now,
                    json!({
                    "primaryObjectId": primary, "mergedObjectIds": [absorbed], "newObjectId": primary,
                    "numberOfPropertiesMoved": 3 }),
                ));
                1
            }
        }
    }

    /// Contacts, companies or deals, by weight.
    fn weighted(&self, rng: &mut StdRng, [contacts, companies, deals]: [u32; 3]) -> &Records {
        let n = rng.random_range(0..contacts + companies + deals);
        if n < contacts {
            &self.contacts
        } else if n < contacts + companies {
            &self.companies
        } else {
            &self.deals
        }
    }

    /// A value of `name` as HubSpot sends it (dates in epoch milliseconds).
    fn value(&self, name: &str, rng: &mut StdRng, now: i64) -> String {
        match name {
            "lifecyclestage" => LIFECYCLE[rng.random_range(0..LIFECYCLE.len())].to_owned(),
            "dealstage" => self.stages[rng.random_range(0..self.stages.len())].clone(),
            "notes_last_contacted" | "notes_last_updated" | "hs_email_last_open_date" | "closedate" => {
                (now - rng.random_range(0..86_400_000)).to_string()
            }
            "num_notes" | "numberofemployees" => rng.random_range(0..500).to_string(),
            "amount" => (rng.random_range(10..2_000) * 50).to_string(),
            "dealtype" => ["newbusiness", "existingbusiness"][rng.random_range(0..2)].to_owned(),
            "hs_lead_status" => ["NEW", "OPEN", "IN_PROGRESS", "CONNECTED"][rng.random_range(0..4)].to_owned(),
            _ => format!("{name} {}", rng.random_range(0..1_000_000)),
        }
    }
}

/// An event as HubSpot sends it, its `eventId` set later.
fn event(object_type: ObjectType, kind: &str, id: i64, now: i64, extra: Value) -> Value {
    let mut event = json!({ "eventId": 0, "subscriptionId": 1, "portalId": PORTAL, "appId": 1, "occurredAt": now,
        "subscriptionType": format!("{}.{kind}", object_type.singular()), "objectId": id, "attemptNumber": 0 });
    if let (Some(event), Value::Object(extra)) = (event.as_object_mut(), extra) {
        event.extend(extra);
    }
    event
}

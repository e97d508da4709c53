//! Random changes at a given rate, as busy users in HubSpot's UI would make them: property edits, new contacts,
//! associations made and removed, deals deleted, contacts merged and erased. Each goes through the store, so each
//! has its webhook events.

use std::time::Duration;

use chrono::Utc;
use hubspot::ObjectType;
use rand::{Rng, SeedableRng, rngs::StdRng};

use super::{
    Shared,
    store::{AssocType, PortalState},
};

/// Makes `changes` changes in `portal` at about `per_second`; returns when done.
pub async fn run(sim: Shared, portal: i64, changes: usize, per_second: f64, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let tick = Duration::from_millis(10);
    let per_tick = (per_second * tick.as_secs_f64()).max(1.0) as usize;
    let mut done = 0;
    while done < changes {
        {
            let mut world = sim.world.lock().expect("simulator state");
            let state = world.portals.get_mut(&portal).expect("a known portal");
            let n = per_tick.min(changes - done);
            for _ in 0..n {
                one_change(state, &mut rng, done);
                done += 1;
            }
            sim.changes_made.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
        tokio::time::sleep(tick).await;
    }
}

fn live(state: &PortalState, object_type: ObjectType, rng: &mut StdRng) -> Option<i64> {
    let ids: Vec<i64> =
        state.records(object_type).values().filter(|r| !r.object.archived).map(|r| r.object.id).collect();
    (!ids.is_empty()).then(|| ids[rng.random_range(0..ids.len())])
}

fn word(rng: &mut StdRng) -> String {
    (0..8).map(|_| rng.random_range(b'a'..=b'z') as char).collect()
}

/// One random change; `n` makes new emails unique.
fn one_change(state: &mut PortalState, rng: &mut StdRng, n: usize) {
    let now = Utc::now();
    let roll = rng.random_range(0..100);
    let set = |name: &str, value: String| [(name.to_owned(), Some(value))].into_iter().collect();
    // A change that does not apply (a record gone meanwhile) is simply skipped, as a user's failed click would be.
    let _ = match roll {
        0..55 => live(state, ObjectType::Contact, rng).map(|id| {
            let name = ["firstname", "lastname", "city", "jobtitle"][rng.random_range(0..4)];
            let value = word(rng);
            state.update(ObjectType::Contact, id, set(name, value), now).map(drop)
        }),
        55..65 => live(state, ObjectType::Company, rng).map(|id| {
            let name = ["name", "industry", "city"][rng.random_range(0..3)];
            let mut value = word(rng);
            // Industry is an enumeration: a user picks one of its options.
            if let Some(industry) = state.definition(ObjectType::Company, name).filter(|d| !d.options.is_empty()) {
                value = industry.options[rng.random_range(0..industry.options.len())].value.clone();
            }
            state.update(ObjectType::Company, id, set(name, value), now).map(drop)
        }),
        65..70 => live(state, ObjectType::Deal, rng).map(|id| {
            let value = rng.random_range(100..100_000).to_string();
            state.update(ObjectType::Deal, id, set("amount", value), now).map(drop)
        }),
        70..78 => {
            let email = format!("{}.{n}@example.org", word(rng));
            let properties = [("email".to_owned(), Some(email)), ("firstname".to_owned(), Some(word(rng)))];
            Some(state.create(ObjectType::Contact, properties.into_iter().collect(), now).map(drop))
        }
        78..86 => live(state, ObjectType::Contact, rng).zip(live(state, ObjectType::Company, rng)).map(|(c, co)| {
            let unlabeled = AssocType { category: "HUBSPOT_DEFINED".into(), type_id: 279, label: None };
            state.associate(ObjectType::Contact, c, ObjectType::Company, co, &[unlabeled])
        }),
        86..92 => {
            let edge = state
                .associations
                .keys()
                .filter(|(ft, _, tt, _)| *ft == ObjectType::Contact && *tt == ObjectType::Company)
                .nth(rng.random_range(0..50))
                .copied();
            edge.map(|(_, c, _, co)| {
                state.dissociate(ObjectType::Contact, c, ObjectType::Company, co);
                Ok(())
            })
        }
        92..97 => live(state, ObjectType::Deal, rng).map(|id| state.archive(ObjectType::Deal, id, now)),
        97..99 => live(state, ObjectType::Contact, rng)
            .zip(live(state, ObjectType::Contact, rng))
            .map(|(a, b)| state.merge(ObjectType::Contact, a, b, now).map(drop)),
        _ => live(state, ObjectType::Contact, rng).map(|id| state.erase(ObjectType::Contact, id)),
    };
}

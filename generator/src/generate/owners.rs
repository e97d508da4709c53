//! The portal's users who own records: sales reps and customer-success managers.

use std::collections::HashSet;

use chrono::Duration;

use super::Gen;
use crate::data::{FIRST_NAMES, LAST_NAMES, SALES_DOMAIN, TEAMS};
use hubspot::{Owner, Team};

const FIRST_OWNER_ID: i64 = 70_000_001;
const FIRST_USER_ID: i64 = 41_000_001;

pub(super) fn generate(g: &mut Gen, count: usize) -> Vec<Owner> {
    let mut emails = HashSet::new();
    (0..count).map(|i| owner(g, i, &mut emails)).collect()
}

fn owner(g: &mut Gen, index: usize, emails: &mut HashSet<String>) -> Owner {
    let first_name = g.pick(FIRST_NAMES).to_string();
    let last_name = g.pick(LAST_NAMES).to_string();
    let email = unique_email(&format!("{first_name}.{last_name}"), SALES_DOMAIN, emails);
    // Users were invited before the first record was created.
    let created_at = g.between(g.start - Duration::days(120), g.start - Duration::days(30));
    let updated_at = g.between(created_at, g.now);
    Owner {
        id: FIRST_OWNER_ID + index as i64,
        email,
        first_name,
        last_name,
        user_id: FIRST_USER_ID + index as i64,
        teams: teams(g, index),
        created_at,
        updated_at,
        archived: false,
    }
}

/// Teams are filled in turn; some owners also help out in a second team.
fn teams(g: &mut Gen, index: usize) -> Vec<Team> {
    let team = |i: usize, primary| Team { id: TEAMS[i].0.to_owned(), name: TEAMS[i].1.to_owned(), primary };
    let home = index % TEAMS.len();
    let mut teams = vec![team(home, true)];
    if g.chance(0.2) {
        let other = (home + g.range(1..TEAMS.len())) % TEAMS.len();
        teams.push(team(other, false));
    }
    teams
}

/// `local@domain` in lower case, with a counter appended to the local part if the address is taken.
pub(super) fn unique_email(local: &str, domain: &str, taken: &mut HashSet<String>) -> String {
    let local: String =
        local.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '.').map(|c| c.to_ascii_lowercase()).collect();
    let mut email = format!("{local}@{domain}");
    let mut n = 2;
    while !taken.insert(email.clone()) {
        email = format!("{local}{n}@{domain}");
        n += 1;
    }
    email
}

//! `POST /crm/v3/objects/{type}/search`: filter groups (ORed) of filters (ANDed), one sort, a text `query`, and
//! HubSpot's limits: `limit` ≤ 200, 5 groups of 6 filters (18 in all), and no paging past 10,000 results.

use std::cmp::Ordering;

use chrono::DateTime;
use hubspot::ObjectType;
use serde::Deserialize;
use serde_json::Value;

use super::{error::SimError, store::Record};

pub const MAX_LIMIT: usize = 200;
pub const MAX_RESULTS: usize = 10_000;

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SearchRequest {
    pub filter_groups: Vec<FilterGroup>,
    pub sorts: Vec<Value>,
    pub query: Option<String>,
    pub properties: Option<Vec<String>>,
    pub limit: Option<usize>,
    pub after: Option<Value>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct FilterGroup {
    pub filters: Vec<Filter>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    pub property_name: String,
    pub operator: String,
    pub value: Option<Value>,
    pub high_value: Option<Value>,
    pub values: Option<Vec<Value>>,
}

/// A checked search: which records match, in which order, from which offset.
pub struct Search {
    groups: Vec<Vec<Filter>>,
    sort: Option<(String, bool)>,
    query: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

impl Search {
    pub fn new(request: SearchRequest) -> Result<Self, SimError> {
        let limit = request.limit.unwrap_or(10);
        if limit > MAX_LIMIT {
            return Err(SimError::validation(format!("limit must be at most {MAX_LIMIT}, got {limit}")));
        }
        let groups: Vec<Vec<Filter>> = request.filter_groups.into_iter().map(|g| g.filters).collect();
        let total: usize = groups.iter().map(Vec::len).sum();
        if groups.len() > 5 || groups.iter().any(|g| g.len() > 6) || total > 18 {
            return Err(SimError::validation(
                "Search allows at most 5 filterGroups of at most 6 filters each, 18 filters in all",
            ));
        }
        for filter in groups.iter().flatten() {
            check(filter)?;
        }
        if request.sorts.len() > 1 {
            return Err(SimError::validation("Search allows one sort"));
        }
        let sort = request.sorts.first().map(sort_of).transpose()?;
        let offset = match &request.after {
            None => 0,
            Some(Value::String(s)) => {
                s.parse().map_err(|_| SimError::validation(format!("after is not a number: {s}")))?
            }
            Some(Value::Number(n)) => n.as_u64().unwrap_or(0) as usize,
            Some(other) => return Err(SimError::validation(format!("after is not a number: {other}"))),
        };
        if offset + limit > MAX_RESULTS {
            return Err(SimError::validation(format!(
                "Search can page through at most {MAX_RESULTS} results; narrow the filters and start again"
            )));
        }
        Ok(Self { groups, sort, query: request.query.filter(|q| !q.trim().is_empty()), limit, offset })
    }

    /// Whether a record passes the filters, and `query` over the type's `searchable` properties.
    pub fn matches(&self, searchable: &[String], record: &Record) -> bool {
        let filtered = self.groups.is_empty() || self.groups.iter().any(|g| g.iter().all(|f| holds(f, record)));
        filtered && self.query.as_deref().is_none_or(|q| query_matches(searchable, record, q))
    }

    pub fn sort(&self, records: &mut Vec<&Record>) {
        match &self.sort {
            None => records.sort_by_key(|r| r.object.id),
            Some((property, descending)) => {
                // Each value is read once: parsing dates inside the comparison made large searches crawl.
                let mut keyed: Vec<(Option<SortKey>, &Record)> =
                    records.iter().map(|r| (r.property(property).map(SortKey::of), *r)).collect();
                keyed.sort_by(|(ka, a), (kb, b)| {
                    let ord = match (ka, kb) {
                        (Some(x), Some(y)) => x.cmp(y),
                        (Some(_), None) => Ordering::Less,
                        (None, Some(_)) => Ordering::Greater,
                        (None, None) => Ordering::Equal,
                    };
                    let ord = if *descending { ord.reverse() } else { ord };
                    ord.then(a.object.id.cmp(&b.object.id))
                });
                *records = keyed.into_iter().map(|(_, r)| r).collect();
            }
        }
    }
}

/// A property value ready for sorting, compared as [`compare`] does.
struct SortKey {
    number: Option<f64>,
    text: String,
}

impl SortKey {
    fn of(value: &str) -> Self {
        Self { number: number(value), text: value.to_lowercase() }
    }

    fn cmp(&self, other: &Self) -> Ordering {
        match (self.number, other.number) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => self.text.cmp(&other.text),
        }
    }
}

fn sort_of(sort: &Value) -> Result<(String, bool), SimError> {
    match sort {
        Value::String(name) => Ok(match name.strip_prefix('-') {
            Some(name) => (name.to_owned(), true),
            None => (name.clone(), false),
        }),
        Value::Object(map) => {
            let name = map
                .get("propertyName")
                .and_then(Value::as_str)
                .ok_or_else(|| SimError::validation("sorts[0].propertyName is required"))?;
            let descending = match map.get("direction").and_then(Value::as_str).unwrap_or("ASCENDING") {
                "ASCENDING" => false,
                "DESCENDING" => true,
                other => {
                    return Err(SimError::validation(format!(
                        "sorts[0].direction {other} is not ASCENDING or DESCENDING"
                    )));
                }
            };
            Ok((name.to_owned(), descending))
        }
        other => Err(SimError::validation(format!("invalid sort {other}"))),
    }
}

fn check(filter: &Filter) -> Result<(), SimError> {
    let needs = |what: bool, field: &str| {
        if what {
            Ok(())
        } else {
            Err(SimError::validation(format!("{} needs `{field}` for {}", filter.property_name, filter.operator)))
        }
    };
    match filter.operator.as_str() {
        "EQ" | "NEQ" | "LT" | "LTE" | "GT" | "GTE" | "CONTAINS_TOKEN" | "NOT_CONTAINS_TOKEN" => {
            needs(filter.value.is_some(), "value")
        }
        "BETWEEN" => needs(filter.value.is_some() && filter.high_value.is_some(), "value and highValue"),
        "IN" | "NOT_IN" => needs(filter.values.is_some(), "values"),
        "HAS_PROPERTY" | "NOT_HAS_PROPERTY" => Ok(()),
        other => Err(SimError::validation(format!("Unknown operator {other}"))),
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A value as a number, if HubSpot would compare it as one: numbers, and dates (ISO or epoch milliseconds).
fn number(s: &str) -> Option<f64> {
    if let Ok(n) = s.parse::<f64>() {
        return Some(n);
    }
    if let Ok(ts) = DateTime::parse_from_rfc3339(s) {
        return Some(ts.timestamp_millis() as f64);
    }
    let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis() as f64)
}

/// Numbers and dates by value, text case-insensitively.
fn compare(a: &str, b: &str) -> Option<Ordering> {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => Some(a.to_lowercase().cmp(&b.to_lowercase())),
    }
}

fn holds(filter: &Filter, record: &Record) -> bool {
    let actual = record.property(&filter.property_name).filter(|v| !v.is_empty());
    let value = filter.value.as_ref().map(text).unwrap_or_default();
    let cmp = |v: &str| actual.and_then(|a| compare(a, v));
    match filter.operator.as_str() {
        "HAS_PROPERTY" => actual.is_some(),
        "NOT_HAS_PROPERTY" => actual.is_none(),
        "EQ" => cmp(&value) == Some(Ordering::Equal),
        "NEQ" => cmp(&value) != Some(Ordering::Equal),
        "LT" => cmp(&value) == Some(Ordering::Less),
        "LTE" => matches!(cmp(&value), Some(Ordering::Less | Ordering::Equal)),
        "GT" => cmp(&value) == Some(Ordering::Greater),
        "GTE" => matches!(cmp(&value), Some(Ordering::Greater | Ordering::Equal)),
        "BETWEEN" => {
            let high = filter.high_value.as_ref().map(text).unwrap_or_default();
            matches!(cmp(&value), Some(Ordering::Greater | Ordering::Equal))
                && matches!(cmp(&high), Some(Ordering::Less | Ordering::Equal))
        }
        "IN" => filter.values.iter().flatten().any(|v| cmp(&text(v)) == Some(Ordering::Equal)),
        "NOT_IN" => !filter.values.iter().flatten().any(|v| cmp(&text(v)) == Some(Ordering::Equal)),
        "CONTAINS_TOKEN" => actual.is_some_and(|a| contains_token(a, &value)),
        "NOT_CONTAINS_TOKEN" => !actual.is_some_and(|a| contains_token(a, &value)),
        _ => false,
    }
}

/// Whether a word of `text` matches `token`; `*` in the token is a wildcard (`*@acme.com`, `smi*`).
fn contains_token(text: &str, token: &str) -> bool {
    let token = token.to_lowercase();
    let text = text.to_lowercase();
    if token.contains('*') {
        let parts: Vec<&str> = token.split('*').collect();
        return text.split_whitespace().any(|word| wildcard(word, &parts)) || wildcard(&text, &parts);
    }
    text.split(|c: char| !c.is_alphanumeric() && c != '@' && c != '.').any(|word| word == token) || text == token
}

fn wildcard(text: &str, parts: &[&str]) -> bool {
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text.ends_with(last) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// The properties `query` searches, per built-in type, as HubSpot documents them (a custom type's schema names its
/// own: [`super::store::PortalState::searchable_properties`]).
pub fn searchable(object_type: ObjectType) -> &'static [&'static str] {
    match object_type {
        ObjectType::Contact => &["firstname", "lastname", "email", "phone", "company"],
        ObjectType::Company => &["name", "domain", "phone"],
        ObjectType::Deal => &["dealname"],
        ObjectType::Ticket => &["subject", "content"],
        ObjectType::Custom(_) => &[],
    }
}

/// `query`: every word must start a word of one of the searchable properties.
fn query_matches(searchable: &[String], record: &Record, query: &str) -> bool {
    let words: Vec<String> = searchable
        .iter()
        .filter_map(|p| record.property(p))
        .flat_map(|v| {
            v.to_lowercase()
                .split(|c: char| c.is_whitespace() || c == '@' || c == '.' || c == '-')
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    query.to_lowercase().split_whitespace().all(|q| words.iter().any(|w| w.starts_with(q)))
}

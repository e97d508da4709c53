//! What the gateway asks HubSpot for when it reads records: every live property the portal defines, custom ones
//! included. A GET names them in its query string, which HubSpot refuses past its URL limit (414), so long lists are
//! read in chunks and merged per record; POST bodies (batch read, search) name them all at once.

use std::collections::BTreeMap;

use hubspot::{CrmObject, ObjectType};
use sea_orm::ConnectionTrait;

use super::wire;
use crate::{
    hubspot::{Call, HubSpot, HubSpotError},
    mirror::definitions,
};

/// Characters of property names per GET: Airbyte's connector chunks at about 15,000; this leaves room for the path,
/// the cursor and the percent-encoding of the other parameters under HubSpot's limit.
const QUERY_CHARS: usize = 12_000;

/// Names HubSpot maintains on every record, asked for even when the definitions could not be read: the sweep
/// follows merges through `hs_merged_object_ids`.
const ALWAYS: [&str; 3] = ["hs_object_id", "createdate", "hs_merged_object_ids"];

/// The properties to read of one object type.
#[derive(Clone, Debug)]
pub struct Asked {
    names: Vec<String>,
}

impl Asked {
    /// Every live property the mirror knows the portal defines for `object_type`, and the ones HubSpot always has.
    /// Before the definitions could be read (a missing schema scope, say), HubSpot's own properties of a fresh portal.
    pub async fn load(db: &impl ConnectionTrait, portal: i64, object_type: ObjectType) -> Result<Self, sea_orm::DbErr> {
        let mut names = definitions::live_names(db, portal, object_type).await?;
        if names.is_empty() {
            names = hubspot::default_properties(object_type).into_iter().map(|d| d.name).collect();
        }
        Ok(Self::new(object_type, names))
    }

    pub fn new(object_type: ObjectType, names: impl IntoIterator<Item = String>) -> Self {
        let mut names: Vec<String> = names.into_iter().collect();
        names.extend(ALWAYS.iter().map(|n| n.to_string()));
        names.push(object_type.last_modified_property().to_owned());
        names.sort_unstable();
        names.dedup();
        Self { names }
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Comma-separated lists for `properties=`, each short enough for one GET.
    pub fn query_chunks(&self) -> Vec<String> {
        let mut chunks = vec![String::new()];
        for name in &self.names {
            let last = chunks.last_mut().expect("never empty");
            if !last.is_empty() && last.len() + 1 + name.len() > QUERY_CHARS {
                chunks.push(String::new());
            }
            let last = chunks.last_mut().expect("never empty");
            if !last.is_empty() {
                last.push(',');
            }
            last.push_str(name);
        }
        chunks
    }
}

/// One page of a GET list (`path` holds every parameter but `properties`), read once per chunk of names and merged
/// per record: the first chunk's answer says which records and which page comes next.
pub async fn read_page(
    hubspot: &HubSpot,
    portal: i64,
    path: &str,
    asked: &Asked,
) -> Result<(wire::Page<CrmObject>, u64), HubSpotError> {
    let mut chunks = asked.query_chunks().into_iter();
    let first = chunks.next().unwrap_or_default();
    let mut page = wire::objects(&hubspot.send(portal, Call::get(format!("{path}&properties={first}"))).await?)?;
    let mut calls = 1;
    for chunk in chunks {
        let more = wire::objects(&hubspot.send(portal, Call::get(format!("{path}&properties={chunk}"))).await?)?;
        calls += 1;
        let mut by_id: BTreeMap<i64, CrmObject> = more.results.into_iter().map(|o| (o.id, o)).collect();
        for object in &mut page.results {
            if let Some(rest) = by_id.remove(&object.id) {
                object.properties.extend(rest.properties);
            }
        }
    }
    Ok((page, calls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_stay_under_the_limit_and_keep_every_name() {
        let names: Vec<String> = (0..2_000).map(|i| format!("custom_property_number_{i:05}")).collect();
        let asked = Asked::new(ObjectType::Contact, names.clone());
        let chunks = asked.query_chunks();
        assert!(chunks.len() > 1, "{} chunks", chunks.len());
        assert!(chunks.iter().all(|c| c.len() <= QUERY_CHARS));
        let back: Vec<&str> = chunks.iter().flat_map(|c| c.split(',')).collect();
        assert_eq!(back.len(), asked.names().len());
        assert!(names.iter().all(|n| back.contains(&n.as_str())));
        assert!(back.contains(&"lastmodifieddate") && back.contains(&"hs_merged_object_ids"));
    }

    #[test]
    fn a_short_list_is_one_get() {
        let asked = Asked::new(ObjectType::Deal, ["amount".to_owned(), "dealname".to_owned()]);
        assert_eq!(asked.query_chunks().len(), 1);
        assert!(asked.names().contains(&"hs_lastmodifieddate".to_owned()));
    }
}

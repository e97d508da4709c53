//! HubSpot's scopes: which ones an API call needs, by path and method, and the 403 `MISSING_SCOPES` it answers when
//! the token's grant holds none of them. A path the table does not know is let through rather than guessed at.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::error::SimError;

/// What a private-app token holds unless `SimConfig::token_scopes` says otherwise: enough for every endpoint the
/// simulator serves.
pub const PRIVATE_APP_SCOPES: &[&str] = &[
    "oauth",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "tickets",
    "crm.objects.owners.read",
    "marketing.campaigns.read",
    "content",
    "crm.schemas.contacts.read",
    "crm.schemas.companies.read",
    "crm.schemas.deals.read",
    "crm.schemas.contacts.write",
    "crm.schemas.companies.write",
    "crm.schemas.deals.write",
    "crm.schemas.custom.read",
    "crm.schemas.custom.write",
    "crm.objects.custom.read",
    "crm.objects.custom.write",
    "crm.lists.read",
    "forms",
];

/// Reading or changing: GETs, and the POSTs that only read (`search`, `batch/read`), read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Read,
    Write,
}

/// How a table row finds the scopes a call needs.
#[derive(Clone, Copy, Debug)]
enum Need {
    /// The same scopes for any path under the prefix.
    Fixed { read: &'static [&'static str], write: &'static [&'static str] },
    /// The object type in the segment after the prefix (records, and the associations from that type).
    Object,
    /// Associations v4 between two types: as `Object`, and for the labels defined between them
    /// (`/{from}/{to}/labels`) the from type's schema scope does as well, as for its property definitions.
    Associations,
    /// Property definitions of the object type after the prefix: its schema scope, or (reading) its own read scope.
    Properties,
    /// Pipelines of the object type after the prefix.
    Pipelines,
}

/// Path prefix (whole segments) → what its calls need; the first matching row decides. One row per API.
const TABLE: &[(&str, Need)] = &[
    ("/crm/v3/objects", Need::Object),
    ("/crm/v3/associations", Need::Object),
    ("/crm/v4/associations", Need::Associations),
    ("/crm/v4/objects", Need::Object),
    ("/crm/v3/owners", Need::Fixed { read: &["crm.objects.owners.read"], write: &["crm.objects.owners.read"] }),
    ("/crm/v3/pipelines", Need::Pipelines),
    ("/crm/v3/properties", Need::Properties),
    ("/crm/v3/schemas", Need::Fixed { read: &["crm.schemas.custom.read"], write: &["crm.schemas.custom.write"] }),
    (
        "/crm-object-schemas/v3/schemas",
        Need::Fixed { read: &["crm.schemas.custom.read"], write: &["crm.schemas.custom.write"] },
    ),
    ("/crm/v3/lists", Need::Fixed { read: &["crm.lists.read"], write: &["crm.lists.write"] }),
    (
        "/marketing/v3/campaigns",
        Need::Fixed { read: &["marketing.campaigns.read"], write: &["marketing.campaigns.write"] },
    ),
    ("/marketing/v3/emails", Need::Fixed { read: &["content"], write: &["content"] }),
    ("/marketing/v3/forms", Need::Fixed { read: &["forms"], write: &["forms"] }),
];

pub fn verb(method: &Method, path: &str) -> Verb {
    let read_only_post = path.ends_with("/search") || path.ends_with("/batch/read");
    if method == Method::GET || method == Method::HEAD || (method == Method::POST && read_only_post) {
        Verb::Read
    } else {
        Verb::Write
    }
}

/// The scopes of which a call needs any one, or `None` when it needs none the simulator knows of.
pub fn required(method: &Method, path: &str) -> Option<Vec<String>> {
    let verb = verb(method, path);
    let (rest, need) = TABLE.iter().find_map(|(prefix, need)| {
        let rest = path.strip_prefix(prefix)?;
        (rest.is_empty() || rest.starts_with('/')).then_some((rest, *need))
    })?;
    let object = rest.split('/').find(|s| !s.is_empty()).unwrap_or_default();
    let scopes: Vec<String> = match need {
        Need::Fixed { read, write } => {
            let scopes = if verb == Verb::Read { read } else { write };
            scopes.iter().map(|s| (*s).to_owned()).collect()
        }
        Need::Object => vec![object_scope(object, verb)?],
        Need::Associations => {
            let mut scopes = vec![object_scope(object, verb)?];
            if rest.split('/').filter(|s| !s.is_empty()).nth(2) == Some("labels") && kind(object)? != Kind::Tickets {
                let suffix = if verb == Verb::Read { "read" } else { "write" };
                scopes.push(format!("crm.schemas.{}.{suffix}", kind(object)?.name()));
            }
            scopes
        }
        Need::Properties => match (kind(object)?, verb) {
            (Kind::Tickets, _) => vec!["tickets".to_owned()],
            (kind, Verb::Read) => vec![format!("crm.schemas.{}.read", kind.name()), object_scope(object, verb)?],
            (kind, Verb::Write) => vec![format!("crm.schemas.{}.write", kind.name())],
        },
        Need::Pipelines => match kind(object)? {
            Kind::Deals | Kind::Tickets => vec![object_scope(object, verb)?],
            _ => return None,
        },
    };
    Some(scopes)
}

/// Whether `granted` covers a call to `path`; the 403 HubSpot answers if not.
pub fn check(granted: &[String], method: &Method, path: &str) -> Result<(), SimError> {
    match required(method, path) {
        Some(needed) if !needed.iter().any(|s| granted.contains(s)) => Err(missing(&needed)),
        _ => Ok(()),
    }
}

/// HubSpot's `MISSING_SCOPES` answer, naming the scopes any one of which would do.
pub fn missing(needed: &[String]) -> SimError {
    let mut e = SimError::new(
        StatusCode::FORBIDDEN,
        "MISSING_SCOPES",
        "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: \
         https://developers.hubspot.com/scopes.",
    );
    e.errors.push(json!({
        "message": "One or more of the following scopes are required.",
        "context": { "requiredGranularScopes": needed },
    }));
    e.extra.push(("links", json!({ "scopes": "https://developers.hubspot.com/scopes" })));
    e
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Contacts,
    Companies,
    Deals,
    Tickets,
    Custom,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Contacts => "contacts",
            Kind::Companies => "companies",
            Kind::Deals => "deals",
            Kind::Tickets => "tickets",
            Kind::Custom => "custom",
        }
    }
}

/// An object type as a path names it: plural or singular name, type id, or a custom object's id or full name.
fn kind(segment: &str) -> Option<Kind> {
    let segment = segment.to_ascii_lowercase();
    Some(match segment.as_str() {
        "contacts" | "contact" | "0-1" => Kind::Contacts,
        "companies" | "company" | "0-2" => Kind::Companies,
        "deals" | "deal" | "0-3" => Kind::Deals,
        "tickets" | "ticket" | "0-5" => Kind::Tickets,
        s if s.starts_with("2-") || is_qualified_name(s) => Kind::Custom,
        _ => return None,
    })
}

/// `p_name` or `p{portal}_name`, a custom object's fully qualified name.
fn is_qualified_name(s: &str) -> bool {
    s.strip_prefix('p')
        .and_then(|r| r.split_once('_'))
        .is_some_and(|(digits, name)| digits.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty())
}

/// The scope reading or changing records of an object type takes.
fn object_scope(segment: &str, verb: Verb) -> Option<String> {
    let suffix = if verb == Verb::Read { "read" } else { "write" };
    Some(match kind(segment)? {
        Kind::Tickets => "tickets".to_owned(),
        kind => format!("crm.objects.{}.{suffix}", kind.name()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(method: Method, path: &str) -> Option<Vec<String>> {
        required(&method, path)
    }

    fn one(scope: &str) -> Option<Vec<String>> {
        Some(vec![scope.to_owned()])
    }

    #[test]
    fn records_need_their_types_read_or_write_scope() {
        assert_eq!(need(Method::GET, "/crm/v3/objects/contacts/12"), one("crm.objects.contacts.read"));
        assert_eq!(need(Method::POST, "/crm/v3/objects/companies/search"), one("crm.objects.companies.read"));
        assert_eq!(need(Method::POST, "/crm/v3/objects/0-3/batch/read"), one("crm.objects.deals.read"));
        assert_eq!(need(Method::POST, "/crm/v3/objects/deal"), one("crm.objects.deals.write"));
        assert_eq!(need(Method::POST, "/crm/v3/objects/contacts/merge"), one("crm.objects.contacts.write"));
        assert_eq!(need(Method::POST, "/crm/v3/objects/contacts/gdpr-delete"), one("crm.objects.contacts.write"));
        assert_eq!(need(Method::POST, "/crm/v3/objects/0-1/batch/upsert"), one("crm.objects.contacts.write"));
        assert_eq!(need(Method::DELETE, "/crm/v3/objects/tickets/5"), one("tickets"));
        assert_eq!(need(Method::GET, "/crm/v3/objects/2-1234"), one("crm.objects.custom.read"));
        assert_eq!(need(Method::PATCH, "/crm/v3/objects/p100001_cars/1"), one("crm.objects.custom.write"));
        assert_eq!(need(Method::GET, "/crm/v3/objects/notes"), None, "not in the table: let through");
    }

    #[test]
    fn associations_need_the_scope_of_their_from_type() {
        assert_eq!(need(Method::GET, "/crm/v4/objects/deals/1/associations/contacts"), one("crm.objects.deals.read"));
        assert_eq!(
            need(Method::PUT, "/crm/v4/objects/contacts/1/associations/default/companies/2"),
            one("crm.objects.contacts.write")
        );
        assert_eq!(
            need(Method::POST, "/crm/v4/associations/companies/deals/batch/read"),
            one("crm.objects.companies.read")
        );
        assert_eq!(need(Method::POST, "/crm/v4/associations/tickets/deals/batch/create"), one("tickets"));
        assert_eq!(
            need(Method::POST, "/crm/v3/associations/contacts/deals/batch/archive"),
            one("crm.objects.contacts.write")
        );
    }

    #[test]
    fn association_labels_need_the_from_types_object_or_schema_scope() {
        let both = |a: &str, b: &str| Some(vec![a.to_owned(), b.to_owned()]);
        assert_eq!(
            need(Method::GET, "/crm/v4/associations/contacts/companies/labels"),
            both("crm.objects.contacts.read", "crm.schemas.contacts.read")
        );
        assert_eq!(
            need(Method::POST, "/crm/v4/associations/companies/contacts/labels"),
            both("crm.objects.companies.write", "crm.schemas.companies.write")
        );
        assert_eq!(
            need(Method::DELETE, "/crm/v4/associations/deals/contacts/labels/1001"),
            both("crm.objects.deals.write", "crm.schemas.deals.write")
        );
        assert_eq!(need(Method::PUT, "/crm/v4/associations/tickets/deals/labels"), one("tickets"));
        let granted = vec!["crm.objects.contacts.read".to_owned()];
        assert!(check(&granted, &Method::GET, "/crm/v4/associations/contacts/companies/labels").is_ok());
        assert!(check(&granted, &Method::POST, "/crm/v4/associations/contacts/companies/labels").is_err());
    }

    #[test]
    fn the_other_apis_need_their_own_scopes() {
        assert_eq!(need(Method::GET, "/crm/v3/owners/"), one("crm.objects.owners.read"));
        assert_eq!(need(Method::GET, "/crm/v3/pipelines/deals/default"), one("crm.objects.deals.read"));
        assert_eq!(need(Method::PATCH, "/crm/v3/pipelines/tickets/0"), one("tickets"));
        assert_eq!(
            need(Method::GET, "/crm/v3/properties/contacts"),
            Some(vec!["crm.schemas.contacts.read".to_owned(), "crm.objects.contacts.read".to_owned()])
        );
        assert_eq!(need(Method::POST, "/crm/v3/properties/deals"), one("crm.schemas.deals.write"));
        assert_eq!(need(Method::GET, "/crm/v3/properties/tickets/groups"), one("tickets"));
        assert_eq!(need(Method::GET, "/crm/v3/schemas"), one("crm.schemas.custom.read"));
        assert_eq!(need(Method::POST, "/crm/v3/lists/search"), one("crm.lists.read"));
        assert_eq!(need(Method::PUT, "/crm/v3/lists/7/memberships/add"), one("crm.lists.write"));
        assert_eq!(need(Method::GET, "/marketing/v3/campaigns/abc"), one("marketing.campaigns.read"));
        assert_eq!(need(Method::GET, "/marketing/v3/emails/statistics/list"), one("content"));
        assert_eq!(need(Method::GET, "/marketing/v3/forms"), one("forms"));
        assert_eq!(need(Method::GET, "/crm/v3/ownersx"), None, "prefixes match whole segments");
        assert_eq!(need(Method::GET, "/oauth/v1/access-tokens/x"), None);
    }

    #[test]
    fn any_one_listed_scope_is_enough() {
        let granted = vec!["crm.objects.contacts.read".to_owned()];
        assert!(check(&granted, &Method::GET, "/crm/v3/properties/contacts").is_ok());
        assert!(check(&granted, &Method::POST, "/crm/v3/properties/contacts").is_err());
        let e = check(&granted, &Method::GET, "/crm/v3/objects/deals").unwrap_err();
        assert_eq!((e.status, e.category), (StatusCode::FORBIDDEN, "MISSING_SCOPES"));
        assert_eq!(e.body()["errors"][0]["context"]["requiredGranularScopes"], json!(["crm.objects.deals.read"]));
    }
}

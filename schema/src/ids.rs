//! Relay global IDs (`base64("Contact:123")`) and the HubSpot ids they wrap.

use async_graphql::ID;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::{ApiError, Res};

pub(crate) fn global_id(type_name: &str, hubspot_id: impl std::fmt::Display) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{type_name}:{hubspot_id}")))
}

/// Splits a global ID into its type name and HubSpot id; `None` when it is not one of ours. Many HubSpot ids are
/// valid base64 too; what they decode to never starts with a type name (ASCII letters).
pub(crate) fn decode_global(id: &str) -> Option<(String, String)> {
    let bytes = URL_SAFE_NO_PAD.decode(id).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (type_name, raw) = text.split_once(':')?;
    if type_name.is_empty() || !type_name.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    Some((type_name.to_owned(), raw.to_owned()))
}

/// The HubSpot id an argument names: either the HubSpot id itself or a global ID of `type_name`.
pub(crate) fn hubspot_key(id: &ID, type_name: &str, argument: &str) -> Res<String> {
    if let Some((found, raw)) = decode_global(id) {
        if found != type_name {
            return Err(ApiError::invalid(
                argument,
                format!("a {found} id was given where a {type_name} id is expected"),
            ));
        }
        return Ok(raw);
    }
    Ok(id.to_string())
}

/// Like [`hubspot_key`] for the numeric ids of CRM objects and owners.
pub(crate) fn numeric_key(id: &ID, type_name: &str, argument: &str) -> Res<i64> {
    let raw = hubspot_key(id, type_name, argument)?;
    raw.parse().map_err(|_| ApiError::invalid(argument, format!("`{raw}` is neither a {type_name} id nor a global ID")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_hubspot_ids_are_never_read_as_global_ids() {
        // Digits are base64 too: "40127" decodes to bytes holding a ':' but no type name.
        for id in (1..200_000i64).step_by(7).chain([40_127, 9_000_001, 123_456_789_012]) {
            assert_eq!(numeric_key(&ID::from(id.to_string()), "Contact", "id").unwrap(), id);
        }
    }

    #[test]
    fn global_ids_round_trip_and_raw_ids_pass_through() {
        let id = global_id("Contact", 42);
        assert_eq!(numeric_key(&id, "Contact", "id").unwrap(), 42);
        assert_eq!(numeric_key(&ID::from("42"), "Contact", "id").unwrap(), 42);
    }

    #[test]
    fn a_global_id_of_another_type_is_refused() {
        let err = numeric_key(&global_id("Deal", 7), "Contact", "id").unwrap_err();
        assert!(err.to_string().contains("`id`"), "{err}");
    }

    #[test]
    fn garbage_is_refused_naming_the_argument() {
        let err = numeric_key(&ID::from("not-an-id"), "Contact", "contactId").unwrap_err();
        assert!(err.to_string().contains("`contactId`"), "{err}");
    }
}

//! Checks a write before HubSpot sees it: formats (email, numbers, dates), owners that exist, and a stage that
//! belongs to the record's pipeline. A failed check names the input field and HubSpot is not called. An owner or
//! stage the mirror does not know may have been added at HubSpot since it was last read: the mirror's owners or
//! pipelines are re-read once (a HubSpot call the request pays for) before the write is refused.

use chrono::{DateTime, NaiveDate};
use entities::{owner, pipeline, pipeline_stage};
use hubspot::ObjectType;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};

use super::inputs::Fields;
use crate::{
    error::{ApiError, Res},
    records::Current,
    scope::Scope,
    upstream::Reference,
};

const NUMBERS: &[&str] = &["amount", "annualrevenue", "numberofemployees", "hubspotscore", "num_notes"];
const DATES: &[&str] = &[
    "closedate",
    "closed_date",
    "notes_last_contacted",
    "notes_last_updated",
    "hs_email_last_open_date",
    "hs_email_last_click_date",
];

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    !local.is_empty()
        && !domain.contains('@')
        && !s.chars().any(char::is_whitespace)
        && domain.split('.').count() >= 2
        && domain.split('.').all(|part| !part.is_empty())
}

/// ISO-8601 (a date, or a date and time with its offset) or epoch milliseconds, as HubSpot takes them.
fn is_date(s: &str) -> bool {
    DateTime::parse_from_rfc3339(s).is_ok()
        || NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
        || (!s.is_empty() && s.len() <= 15 && s.bytes().all(|b| b.is_ascii_digit()))
}

/// Formats of the values given; an empty string or null clears a property and is always allowed.
fn check_formats(fields: &Fields) -> Res<()> {
    for (property, (value, field)) in fields {
        let Some(value) = value.as_deref().filter(|v| !v.is_empty()) else { continue };
        let problem = if property == "email" && !is_email(value) {
            Some(format!("`{value}` is not an email address"))
        } else if NUMBERS.contains(&property.as_str()) && value.trim().parse::<f64>().map_or(true, |n| !n.is_finite()) {
            Some(format!("`{value}` is not a number"))
        } else if DATES.contains(&property.as_str()) && !is_date(value) {
            Some(format!("`{value}` is not a date (ISO-8601, or epoch milliseconds)"))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(ApiError::invalid(field.clone(), problem));
        }
    }
    Ok(())
}

/// Re-reads `kind` into the mirror when HubSpot is configured; whether anything was read.
async fn refreshed(scope: &Scope, kind: Reference) -> Res<bool> {
    let Some(upstream) = scope.hubspot()? else { return Ok(false) };
    Ok(upstream.refresh_reference(scope.portal_id, kind).await?)
}

async fn owner_known(scope: &Scope, id: i64) -> Res<bool> {
    let found = owner::Entity::find()
        .filter(owner::Column::PortalId.eq(scope.portal_id))
        .filter(owner::Column::HubspotId.eq(id))
        .filter(owner::Column::ArchivedAt.is_null())
        .count(&scope.db)
        .await?;
    Ok(found > 0)
}

async fn check_owner(scope: &Scope, fields: &Fields) -> Res<()> {
    let Some((Some(value), field)) = fields.get("hubspot_owner_id") else { return Ok(()) };
    if value.is_empty() {
        return Ok(());
    }
    let id: i64 =
        value.parse().map_err(|_| ApiError::invalid(field.clone(), format!("`{value}` is not an owner id")))?;
    if owner_known(scope, id).await? || (refreshed(scope, Reference::Owners).await? && owner_known(scope, id).await?) {
        return Ok(());
    }
    Err(ApiError::invalid(field.clone(), format!("no owner with id {id} in this portal")))
}

/// The pipeline and stage properties of deals and tickets, and their defaults for a new record.
fn pipeline_properties(object_type: ObjectType) -> Option<(&'static str, &'static str, &'static str)> {
    match object_type {
        ObjectType::Deal => Some(("pipeline", "dealstage", "default")),
        ObjectType::Ticket => Some(("hs_pipeline", "hs_pipeline_stage", "0")),
        _ => None,
    }
}

/// A new deal or ticket goes to HubSpot's default pipeline unless the input names one; sent explicitly, so the
/// mirror knows it from HubSpot's answer.
pub(crate) fn default_pipeline(object_type: ObjectType, fields: &mut Fields) {
    if let Some((pipeline, _, default)) = pipeline_properties(object_type) {
        fields.entry(pipeline.to_owned()).or_insert_with(|| (Some(default.to_owned()), "input.pipeline".to_owned()));
    }
}

/// A deal or ticket ends up in a pipeline of its type and in a stage of that pipeline. A new one (`current` is
/// `None`) always names its pipeline: [`default_pipeline`] runs first.
async fn check_stage(
    db: &impl ConnectionTrait,
    portal: i64,
    object_type: ObjectType,
    fields: &Fields,
    current: Option<&Current>,
) -> Res<()> {
    let Some((pipeline_property, stage_property, default)) = pipeline_properties(object_type) else { return Ok(()) };
    let given = |name: &str| fields.get(name).map(|(v, field)| (v.clone().unwrap_or_default(), field.clone()));
    let (pipeline_given, stage_given) = (given(pipeline_property), given(stage_property));
    if pipeline_given.is_none() && stage_given.is_none() {
        // An update that moves neither.
        return Ok(());
    }
    let pipeline_id = match &pipeline_given {
        Some((id, _)) => id.clone(),
        None => current.and_then(|c| c.pipeline.clone()).unwrap_or_else(|| default.to_owned()),
    };
    let pipeline_field = pipeline_given.as_ref().map_or("input.pipeline".to_owned(), |(_, f)| f.clone());
    let pipeline_exists = pipeline::Entity::find()
        .filter(pipeline::Column::PortalId.eq(portal))
        .filter(pipeline::Column::ObjectType.eq(object_type.plural()))
        .filter(pipeline::Column::HubspotId.eq(&pipeline_id))
        .count(db)
        .await?;
    if pipeline_exists == 0 {
        return Err(ApiError::invalid(
            pipeline_field,
            format!("no {} pipeline `{pipeline_id}` in this portal", object_type.singular()),
        ));
    }
    let (stage, stage_field) = match (stage_given, current) {
        (Some(given), _) => given,
        (None, Some(current)) => (current.stage.clone().unwrap_or_default(), pipeline_field.clone()),
        (None, None) => {
            return Err(ApiError::invalid("input.stage", format!("a new {} needs a stage", object_type.singular())));
        }
    };
    let stages: Vec<String> = pipeline_stage::Entity::find()
        .select_only()
        .column(pipeline_stage::Column::HubspotId)
        .filter(pipeline_stage::Column::PortalId.eq(portal))
        .filter(pipeline_stage::Column::PipelineId.eq(&pipeline_id))
        .filter(pipeline_stage::Column::ArchivedAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    if !stages.contains(&stage) {
        return Err(ApiError::invalid(
            stage_field,
            format!("`{stage}` is not a stage of pipeline `{pipeline_id}` (its stages: {})", stages.join(", ")),
        ));
    }
    Ok(())
}

/// A write of `fields` to a record of `object_type` checked against the portal's definitions: each property must be
/// defined, live and writable, and its value one its type holds (a number, a date, `true`/`false`, an enumeration's
/// options); and an owner must exist. A name the mirror does not know may be new at HubSpot: the definitions are
/// re-read once before it is refused.
pub(crate) async fn check_definitions(scope: &Scope, object_type: ObjectType, fields: &Fields) -> Res<()> {
    let kind = object_type.singular();
    let mut definitions = scope.definitions().await?;
    let unknown = |d: &crate::portal_properties::Definitions| fields.keys().any(|n| d.get(kind, n).is_none());
    if unknown(&definitions) && refreshed(scope, Reference::Properties).await? {
        definitions =
            std::sync::Arc::new(crate::portal_properties::Definitions::load(&scope.db, scope.portal_id).await?);
    }
    for (name, (value, field)) in fields {
        let definition = definitions.live(kind, name, field)?;
        if definition.read_only_value || definition.calculated {
            return Err(ApiError::invalid(field.clone(), format!("`{name}` is set by HubSpot only")));
        }
        let Some(value) = value.as_deref().filter(|v| !v.is_empty()) else { continue };
        let problem = match definition.property_type.as_str() {
            "number" if value.trim().parse::<f64>().map_or(true, |n| !n.is_finite()) => {
                Some("is not a number".to_owned())
            }
            "date" | "datetime" if !is_date(value) => {
                Some("is not a date (ISO-8601, or epoch milliseconds)".to_owned())
            }
            "bool" if !matches!(value, "true" | "false") => Some("is not `true` or `false`".to_owned()),
            "enumeration" if name != "hubspot_owner_id" => {
                let options = crate::portal_properties::option_values(definition);
                value
                    .split(';')
                    .any(|part| !options.iter().any(|o| o == part))
                    .then(|| format!("is not an option of `{name}` (its options: {})", options.join(", ")))
            }
            _ => None,
        };
        if let Some(problem) = problem {
            return Err(ApiError::invalid(field.clone(), format!("`{value}` {problem}")));
        }
    }
    check_owner(scope, fields).await
}

/// Every check of a write of `fields` to a record of `object_type`: a new one when `current` is `None`.
pub(crate) async fn check(
    scope: &Scope,
    object_type: ObjectType,
    fields: &Fields,
    current: Option<&Current>,
) -> Res<()> {
    check_formats(fields)?;
    check_owner(scope, fields).await?;
    let Err(refused) = check_stage(&scope.db, scope.portal_id, object_type, fields, current).await else {
        return Ok(());
    };
    // A pipeline or stage named that the mirror does not hold may be new at HubSpot.
    let names_one = pipeline_properties(object_type)
        .is_some_and(|(p, s, _)| [p, s].iter().any(|n| fields.get(*n).is_some_and(|(v, _)| v.is_some())));
    if names_one && refreshed(scope, Reference::Pipelines).await? {
        return check_stage(&scope.db, scope.portal_id, object_type, fields, current).await;
    }
    Err(refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_dates() {
        for good in ["a@b.co", "first.last+tag@example.co.uk"] {
            assert!(is_email(good), "{good}");
        }
        for bad in ["", "a", "a@b", "@b.co", "a@b..co", "a b@c.co", "a@b@c.co"] {
            assert!(!is_email(bad), "{bad}");
        }
        for good in ["2026-12-01", "2026-12-01T10:00:00Z", "2026-12-01T10:00:00.123+01:00", "1764583200000"] {
            assert!(is_date(good), "{good}");
        }
        for bad in ["tomorrow", "2026-13-01", "12/01/2026", ""] {
            assert!(!is_date(bad), "{bad}");
        }
    }

    #[test]
    fn a_bad_format_names_its_field() {
        let mut fields = Fields::new();
        fields.insert("amount".into(), (Some("12,5".into()), "input.properties.amount".into()));
        let err = check_formats(&fields).unwrap_err();
        assert!(err.to_string().contains("`input.properties.amount`"), "{err}");
        fields.insert("amount".into(), (Some("".into()), "input.properties.amount".into()));
        check_formats(&fields).expect("an empty value clears");
    }
}

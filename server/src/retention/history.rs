//! Compacting `health_score_history`: every change is kept for `HEALTH_HISTORY_DETAIL_DAYS`; before that, only the
//! last change of each client (portal, subject) per UTC day, which is the figure a daily trend shows. Kept rows
//! keep their ids (the cursor of `healthScoreChanged`) and their `previous_overall` (the figure just before that
//! change, which may now be gone).

use chrono::{DateTime, Days, TimeDelta, Utc};
use entities::health_score_history::{self, Column as C};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::BATCH;

/// The start of the UTC day `days` before `now`'s: rows before it are compacted, whole days at a time.
pub fn cutoff(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let day = now.date_naive() - Days::new(days.into());
    day.and_hms_opt(0, 0, 0).map_or(now - TimeDelta::days(days.into()), |midnight| midnight.and_utc())
}

/// How far this replica has compacted: every row up to `through_id` older than the last cutoff is done, so a pass
/// reads only what aged since (rows are numbered as they are written, which is when they were computed).
#[derive(Debug, Default)]
pub struct Compacted {
    through_id: i64,
}

impl Compacted {
    /// Deletes the rows before `cutoff` that a later row of the same client and UTC day supersedes, [`BATCH`] rows
    /// read at a time; how many.
    pub async fn compact(&mut self, db: &DatabaseConnection, cutoff: DateTime<Utc>) -> Result<u64, DbErr> {
        let mut deleted = 0;
        loop {
            let ids: Vec<i64> = health_score_history::Entity::find()
                .select_only()
                .column(C::Id)
                .filter(C::Id.gt(self.through_id))
                .filter(C::ComputedAt.lt(cutoff))
                .order_by_asc(C::Id)
                .limit(BATCH)
                .into_tuple()
                .all(db)
                .await?;
            let Some(&last) = ids.last() else { return Ok(deleted) };
            deleted += delete_superseded(db, &ids).await?;
            self.through_id = last;
            if (ids.len() as u64) < BATCH {
                return Ok(deleted);
            }
        }
    }
}

/// Deletes those of `ids` with a later row of the same client on the same UTC day.
async fn delete_superseded(db: &DatabaseConnection, ids: &[i64]) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    // Ids read from the table: integers, written into the statement as such.
    let ids = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let same_day = match backend {
        DbBackend::Postgres => {
            "later.computed_at >= health_score_history.computed_at AND later.computed_at \
             < date_trunc('day', health_score_history.computed_at, 'UTC') + interval '1 day'"
        }
        _ => {
            "julianday(later.computed_at) >= julianday(health_score_history.computed_at) AND \
             julianday(later.computed_at) < julianday(date(health_score_history.computed_at, '+1 day'))"
        }
    };
    let sql = format!(
        "DELETE FROM health_score_history WHERE id IN ({ids}) AND EXISTS (\
           SELECT 1 FROM health_score_history later \
           WHERE later.portal_id = health_score_history.portal_id \
             AND later.subject_type = health_score_history.subject_type \
             AND later.subject_id = health_score_history.subject_id \
             AND later.id > health_score_history.id AND {same_day})"
    );
    Ok(db.execute_unprepared(&sql).await?.rows_affected())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_cutoff_is_a_utc_midnight() {
        let now = Utc.with_ymd_and_hms(2026, 12, 9, 15, 30, 0).unwrap();
        assert_eq!(cutoff(now, 90), Utc.with_ymd_and_hms(2026, 9, 10, 0, 0, 0).unwrap());
        assert_eq!(cutoff(now, 0), Utc.with_ymd_and_hms(2026, 12, 9, 0, 0, 0).unwrap());
    }
}

//! What the install's single-use rows share: random secrets shown once and stored only as a hash, a constant-time
//! check of a secret against its hash, and taking a row (read and delete) in one statement.

use sea_orm::{Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryTrait};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 32 random bytes, hex: unguessable, and safe in a URL, a cookie and a query.
pub fn fresh() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// SHA-256 of `secret`, hex: what the database keeps instead of the secret.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether `secret` hashes to `stored`, in time that does not depend on where they differ.
pub fn matches(secret: &str, stored: &str) -> bool {
    digest(secret).as_bytes().ct_eq(stored.as_bytes()).into()
}

/// Deletes the row `condition` picks and returns it, in one statement (`DELETE … RETURNING`, SQLite ≥ 3.35 and
/// Postgres), so of two requests racing for a row only one gets it. Raw, because sea-orm turns `RETURNING` off on
/// SQLite unless a crate-wide feature is on.
pub async fn take<E, C>(db: &C, condition: Condition) -> Result<Option<E::Model>, DbErr>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let mut delete = E::delete_many().filter(condition).into_query();
    delete.returning_all();
    let statement = db.get_database_backend().build(&delete);
    E::find().from_raw_sql(statement).one(db).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_matches_its_digest_only() {
        let (a, b) = (fresh(), fresh());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(matches(&a, &digest(&a)));
        assert!(!matches(&b, &digest(&a)));
        assert!(!matches(&a, ""));
    }
}

//! What one request may see: its portal, the database, and the DataLoaders that batch its lookups.

use async_graphql::Context;
use sea_orm::DatabaseConnection;

use crate::loaders::Loaders;

pub struct Scope {
    pub portal_id: i64,
    pub db: DatabaseConnection,
    pub(crate) loaders: Loaders,
}

impl Scope {
    /// A fresh scope per request: loaders cache rows, so sharing them across requests would leak one caller's rows
    /// to another.
    pub fn new(db: DatabaseConnection, portal_id: i64) -> Self {
        let loaders = Loaders::new(db.clone(), portal_id);
        Self { portal_id, db, loaders }
    }
}

pub(crate) fn scope<'a>(ctx: &Context<'a>) -> &'a Scope {
    ctx.data_unchecked::<Scope>()
}

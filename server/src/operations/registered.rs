//! Registered operations: the `operations` table, filled from `.graphql` files, and the copy of it a serving process
//! checks requests against. A row never changes (its key is the hash of its text), so a reload reads the hashes and
//! fetches only the documents it does not hold yet; checking a request reads no database unless its hash is unknown.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, RwLock},
};

use chrono::Utc;
use entities::operation;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TryInsertResult,
};

use super::{Document, DocumentError, document::Checker};
use crate::reload::MissGate;

/// Why files could not be registered; nothing is registered then.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    // Not `source` fields: the message holds the cause, so a report does not repeat it.
    #[error("reading {}: {error}", path.display())]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{}: {error}", path.display())]
    Document { path: PathBuf, error: DocumentError },
    #[error("storing the operations: {0}")]
    Db(#[from] DbErr),
}

/// Registers the document in each file (see [`Document::parse`]), every file checked first: if one does not parse
/// or holds an operation the schema would refuse, none is registered. Returns each document, and whether it is new.
pub async fn add_files(db: &DatabaseConnection, paths: &[PathBuf]) -> Result<Vec<(Document, bool)>, RegisterError> {
    let checker = Checker::default();
    let mut documents = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|error| RegisterError::Read { path: path.clone(), error })?;
        let document = Document::parse(&text).map_err(|error| RegisterError::Document { path: path.clone(), error })?;
        checker.check(&document).await.map_err(|error| RegisterError::Document { path: path.clone(), error })?;
        documents.push(document);
    }
    let mut added = Vec::with_capacity(documents.len());
    for document in documents {
        let new = add(db, &document).await?;
        added.push((document, new));
    }
    Ok(added)
}

/// Stores `document`; false when it was registered already.
pub async fn add(db: &DatabaseConnection, document: &Document) -> Result<bool, DbErr> {
    let row = operation::ActiveModel {
        sha256: Set(document.sha256.clone()),
        name: Set(document.names.join(", ")),
        document: Set(document.text.clone()),
        created_at: Set(Utc::now()),
    };
    let result = operation::Entity::insert(row).on_conflict_do_nothing().exec(db).await?;
    Ok(matches!(result, TryInsertResult::Inserted(_)))
}

/// Every registered operation, oldest first.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<operation::Model>, DbErr> {
    operation::Entity::find().order_by_asc(operation::Column::CreatedAt).all(db).await
}

/// Removes the operation registered under `sha256`; false when there is none. Serving gateways refuse it within
/// [`RELOAD_EVERY`](crate::reload::RELOAD_EVERY).
pub async fn remove(db: &DatabaseConnection, sha256: &str) -> Result<bool, DbErr> {
    let sha256 = sha256.trim().to_ascii_lowercase();
    Ok(operation::Entity::delete_by_id(sha256).exec(db).await?.rows_affected > 0)
}

/// The registered documents a serving process holds, by hash.
pub struct Registered {
    db: DatabaseConnection,
    documents: RwLock<Arc<HashMap<String, Arc<str>>>>,
    misses: MissGate,
}

impl Registered {
    /// The table as it is; an unknown hash reads it again at most once per `miss_every`.
    pub async fn load(db: DatabaseConnection, miss_every: std::time::Duration) -> Result<Self, DbErr> {
        let registered = Self { db, documents: RwLock::default(), misses: MissGate::new(miss_every) };
        registered.reload().await?;
        Ok(registered)
    }

    /// Reads the table again: drops what was removed, fetches what was added.
    pub async fn reload(&self) -> Result<(), DbErr> {
        let hashes: Vec<String> = operation::Entity::find()
            .select_only()
            .column(operation::Column::Sha256)
            .into_tuple()
            .all(&self.db)
            .await?;
        let held = self.snapshot();
        let mut documents: HashMap<String, Arc<str>> = HashMap::with_capacity(hashes.len());
        let mut missing = Vec::new();
        for hash in hashes {
            match held.get(&hash) {
                Some(document) => {
                    documents.insert(hash, Arc::clone(document));
                }
                None => missing.push(hash),
            }
        }
        // Chunks keep the statement's parameters within every backend's limit.
        for chunk in missing.chunks(500) {
            let rows =
                operation::Entity::find().filter(operation::Column::Sha256.is_in(chunk.to_vec())).all(&self.db).await?;
            documents.extend(rows.into_iter().map(|row| (row.sha256, Arc::from(row.document))));
        }
        if let Ok(mut held) = self.documents.write() {
            *held = Arc::new(documents);
        }
        self.misses.read();
        Ok(())
    }

    fn snapshot(&self) -> Arc<HashMap<String, Arc<str>>> {
        self.documents.read().map(|held| Arc::clone(&held)).unwrap_or_default()
    }

    /// How many documents this process holds.
    pub fn len(&self) -> usize {
        self.snapshot().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The document registered under `hash`, as this process last read the table.
    pub fn held(&self, hash: &str) -> Option<Arc<str>> {
        self.snapshot().get(hash).cloned()
    }

    /// The document registered under `hash`. One this process does not hold reads the table again, at most once
    /// per [`RELOAD_ON_MISS`](crate::reload::RELOAD_ON_MISS), so an operation registered a moment ago runs at once.
    pub async fn get(&self, hash: &str) -> Option<Arc<str>> {
        if let Some(document) = self.held(hash) {
            return Some(document);
        }
        if !self.misses.claim() {
            return None;
        }
        if let Err(err) = self.reload().await {
            tracing::error!(error = %err, "reading registered operations");
        }
        self.held(hash)
    }
}

//! The local admin key of a gateway on a loopback address: made once, kept in a file only its owner may read, and
//! shown at every start and in GraphiQL, so `make run` needs nothing typed.

use std::path::Path;

use anyhow::Context;
use schema::Role;
use sea_orm::DatabaseConnection;

use super::{Grant, keys};

/// The key in `file` if it is still live, else a new admin key of every portal, written there.
pub async fn admin_key(db: &DatabaseConnection, file: &Path) -> anyhow::Result<String> {
    if let Ok(text) = std::fs::read_to_string(file) {
        let key = text.trim().to_owned();
        if keys::is_live(db, &key).await? {
            return Ok(key);
        }
    }
    let (key, info) = keys::create(db, "local admin (loopback)", Role::Admin, &Grant::All).await?;
    crate::audit::key_changed(db, "serve", "local admin key", "createApiKey", &info).await;
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    write_private(file, &key).with_context(|| format!("writing {} (LOCAL_KEY_FILE)", file.display()))?;
    tracing::info!(key = %info.id, file = %file.display(), "made the local admin key");
    Ok(key)
}

#[cfg(unix)]
fn write_private(file: &Path, key: &str) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut out = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(file)?;
    out.write_all(key.as_bytes())
}

#[cfg(not(unix))]
fn write_private(file: &Path, key: &str) -> std::io::Result<()> {
    std::fs::write(file, key)
}

//! Each portal's own credential: the private app's token for the portal it belongs to, and an OAuth install's tokens
//! for every installed portal. A call for a portal with neither fails before it is sent.

use std::sync::{Arc, OnceLock};

use futures::future::BoxFuture;

use super::{HubSpotError, TokenSource};

pub struct Credentials {
    /// `HUBSPOT_ACCESS_TOKEN`, if set.
    private_app: Option<String>,
    /// The portal the private app's token belongs to, once HubSpot has said (token info).
    private_portal: OnceLock<i64>,
    /// Installed portals' tokens, when the public app is configured.
    oauth: Option<Arc<dyn TokenSource>>,
}

impl std::fmt::Debug for Credentials {
    /// The token never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("private_app", &self.private_app.as_ref().map(|_| "<redacted>"))
            .field("private_portal", &self.private_portal.get())
            .field("oauth", &self.oauth.is_some())
            .finish()
    }
}

impl Credentials {
    pub fn new(private_app: Option<String>, oauth: Option<Arc<dyn TokenSource>>) -> Self {
        Self { private_app, private_portal: OnceLock::new(), oauth }
    }

    pub fn private_app(&self) -> Option<&str> {
        self.private_app.as_deref()
    }

    /// Records which portal the private app's token belongs to; its token is then used for that portal only.
    pub fn private_portal_is(&self, portal: i64) {
        let _ = self.private_portal.set(portal);
    }

    pub fn private_portal(&self) -> Option<i64> {
        self.private_portal.get().copied()
    }

    async fn token_for(&self, portal: i64) -> Result<String, HubSpotError> {
        let private = self.private_app.as_ref();
        match (private, self.private_portal.get()) {
            (Some(token), Some(owner)) if *owner == portal => return Ok(token.clone()),
            // Until HubSpot has said whose the token is, it is the only guess there is for a portal not installed.
            (Some(token), None) if self.oauth.is_none() => return Ok(token.clone()),
            _ => {}
        }
        match &self.oauth {
            Some(oauth) => match oauth.token(portal).await {
                Ok(token) => Ok(token),
                Err(_) if private.is_some() && self.private_portal.get().is_none() => {
                    Ok(private.cloned().unwrap_or_default())
                }
                Err(err) => Err(err),
            },
            None => Err(HubSpotError::local(format!(
                "portal {portal} has no credential: the private app's token belongs to another portal and it has no \
                 OAuth install"
            ))),
        }
    }
}

impl TokenSource for Credentials {
    fn token(&self, portal: i64) -> BoxFuture<'_, Result<String, HubSpotError>> {
        Box::pin(self.token_for(portal))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Installs(HashMap<i64, &'static str>);

    impl TokenSource for Installs {
        fn token(&self, portal: i64) -> BoxFuture<'_, Result<String, HubSpotError>> {
            let found = self.0.get(&portal).map(|t| t.to_string());
            Box::pin(async move { found.ok_or_else(|| HubSpotError::bad_response("not installed")) })
        }
    }

    #[tokio::test]
    async fn each_portal_gets_its_own_credential() {
        let oauth: Arc<dyn TokenSource> = Arc::new(Installs(HashMap::from([(2, "oauth-2")])));
        let credentials = Credentials::new(Some("pat-1".into()), Some(oauth));
        credentials.private_portal_is(1);
        assert_eq!(credentials.token(1).await.unwrap(), "pat-1");
        assert_eq!(credentials.token(2).await.unwrap(), "oauth-2");
        assert!(credentials.token(3).await.is_err(), "a portal with neither has no token");
        assert!(!format!("{credentials:?}").contains("pat-1"));
    }

    #[tokio::test]
    async fn the_private_token_is_the_guess_until_its_portal_is_known() {
        let credentials = Credentials::new(Some("pat-1".into()), None);
        assert_eq!(credentials.token(9).await.unwrap(), "pat-1");
        credentials.private_portal_is(1);
        assert!(credentials.token(9).await.is_err());
    }
}

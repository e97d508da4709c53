//! Fan-out of score changes and of insights raised or resolved to subscribers: in process, or through Redis pub/sub
//! when replicas share a Redis, so a subscriber on any replica hears the changes every replica makes.

use std::time::Duration;

use futures::{StreamExt, stream::BoxStream};
use schema::feed::{Change, Feed};
use tokio::sync::broadcast;

use crate::shared_redis::SharedRedis;

/// Changes a slow subscriber may fall behind by before it misses some (it can resume from its cursor).
const CAPACITY: usize = 4096;

#[derive(Clone)]
pub struct Notifier {
    local: broadcast::Sender<Change>,
    redis: Option<(SharedRedis, String)>,
}

impl Notifier {
    /// Subscribers of this process hear the changes this process makes.
    pub fn in_process() -> Self {
        Self { local: broadcast::channel(CAPACITY).0, redis: None }
    }

    /// Changes go to Redis at `url`; what arrives on the channel, from any replica, goes to this process's
    /// subscribers. Must run inside Tokio.
    pub fn through_redis(url: &str, shared: SharedRedis) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let channel = shared.key("health-changes");
        let notifier = Self { local: broadcast::channel(CAPACITY).0, redis: Some((shared, channel.clone())) };
        tokio::spawn(relay(client, channel, notifier.local.clone()));
        Ok(notifier)
    }

    pub async fn publish(&self, changes: &[Change]) {
        for change in changes {
            if let Some((shared, channel)) = &self.redis {
                let text = serde_json::to_string(change).expect("a change serialises");
                let sent: redis::RedisResult<i64> =
                    redis::cmd("PUBLISH").arg(channel).arg(text).query_async(&mut shared.conn()).await;
                match sent {
                    Ok(_) => continue,
                    // Redis is down: this replica's subscribers still hear it.
                    Err(err) => tracing::warn!(error = %err, "publishing a change to Redis failed"),
                }
            }
            // No one listening is not a failure.
            let _ = self.local.send(change.clone());
        }
    }
}

/// Relays the channel to local subscribers for ever, reconnecting after Redis goes away.
async fn relay(client: redis::Client, channel: String, local: broadcast::Sender<Change>) {
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let Ok(text) = message.get_payload::<String>() else { continue };
                        match serde_json::from_str::<Change>(&text) {
                            Ok(change) => {
                                let _ = local.send(change);
                            }
                            Err(err) => tracing::warn!(error = %err, "an unreadable change on Redis"),
                        }
                    }
                    tracing::warn!("the Redis subscription for changes ended; reconnecting");
                }
                Err(err) => tracing::warn!(error = %err, "subscribing to changes on Redis failed"),
            },
            Err(err) => tracing::warn!(error = %err, "connecting to Redis for changes failed"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

impl Feed for Notifier {
    fn changes(&self) -> BoxStream<'static, Change> {
        let receiver = self.local.subscribe();
        futures::stream::unfold(receiver, |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(change) => return Some((change, receiver)),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "a subscriber fell behind; it can resume from its cursor");
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .boxed()
    }
}

//! Fan-out of score changes and of insights raised or resolved to subscribers: in process, or through Redis pub/sub
//! when replicas share a Redis, so a subscriber on any replica hears the changes every replica makes.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

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
    /// The relay is subscribed to the channel, so what this process publishes comes back to its subscribers.
    relaying: Arc<AtomicBool>,
}

impl Notifier {
    /// Subscribers of this process hear the changes this process makes.
    pub fn in_process() -> Self {
        Self { local: broadcast::channel(CAPACITY).0, redis: None, relaying: Arc::default() }
    }

    /// Changes go to Redis at `url`; what arrives on the channel, from any replica, goes to this process's
    /// subscribers. Must run inside Tokio.
    pub fn through_redis(url: &str, shared: SharedRedis) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let channel = shared.key("health-changes");
        let notifier = Self {
            local: broadcast::channel(CAPACITY).0,
            redis: Some((shared, channel.clone())),
            relaying: Arc::default(),
        };
        tokio::spawn(relay(client, channel, notifier.local.clone(), notifier.relaying.clone()));
        Ok(notifier)
    }

    pub async fn publish(&self, changes: &[Change]) {
        for change in changes {
            if let Some((shared, channel)) = &self.redis {
                // Read before publishing: a relay subscribed by then hears the change.
                let relaying = self.relaying.load(Ordering::SeqCst);
                let text = serde_json::to_string(change).expect("a change serialises");
                let publish =
                    async |mut conn| redis::cmd("PUBLISH").arg(channel).arg(text).query_async(&mut conn).await;
                let sent: redis::RedisResult<i64> = shared.run(publish).await;
                match sent {
                    Ok(_) if relaying => continue,
                    // Redis is back and the relay not yet subscribed again: published, but not to us.
                    Ok(_) => {}
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
async fn relay(client: redis::Client, channel: String, local: broadcast::Sender<Change>, relaying: Arc<AtomicBool>) {
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    relaying.store(true, Ordering::SeqCst);
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
                    relaying.store(false, Ordering::SeqCst);
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

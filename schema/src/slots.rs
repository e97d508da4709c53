//! How many subscriptions a socket, and a credential over all its sockets, may hold open at once in this process.
//! A socket's `connection_init` puts its slots in the connection's data; the schema (`gateway`) takes one of each for
//! every subscription and gives them back when it ends.

use std::sync::Arc;

use async_graphql::{Response, ServerError};
use futures::{StreamExt, stream::BoxStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::limits::exceeded;

/// The slots one socket draws from.
#[derive(Clone)]
pub struct SubscriptionSlots {
    connection: Arc<Semaphore>,
    per_connection: usize,
    caller: Arc<Semaphore>,
    per_caller: usize,
}

impl SubscriptionSlots {
    /// A new socket's slots: `per_connection` of its own, and the caller's shared `caller` (made with
    /// `per_caller` permits).
    pub fn new(per_connection: usize, caller: Arc<Semaphore>, per_caller: usize) -> Self {
        Self { connection: Arc::new(Semaphore::new(per_connection)), per_connection, caller, per_caller }
    }

    fn take(&self) -> Result<(OwnedSemaphorePermit, OwnedSemaphorePermit), ServerError> {
        let connection = self.connection.clone().try_acquire_owned().map_err(|_| {
            let max = self.per_connection;
            exceeded("subscriptions", max, format!("this connection holds {max} subscriptions already; at most {max}"))
        })?;
        let caller = self.caller.clone().try_acquire_owned().map_err(|_| {
            let max = self.per_caller;
            let message =
                format!("this credential holds {max} subscriptions already, over all its connections; at most {max}");
            exceeded("subscriptionsPerCredential", max, message)
        })?;
        Ok((connection, caller))
    }

    /// `stream` holding a slot of each until it ends, or one error when none is free.
    pub(crate) fn hold<'s>(&self, stream: BoxStream<'s, Response>) -> BoxStream<'s, Response> {
        match self.take() {
            Ok(permits) => stream
                .map(move |response| {
                    let _held = &permits;
                    response
                })
                .boxed(),
            Err(error) => futures::stream::once(async move { Response::from_errors(vec![error]) }).boxed(),
        }
    }
}

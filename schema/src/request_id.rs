//! The id of the HTTP request a task serves (the caller's `x-request-id`, or the one the gateway made): the server
//! sets it around each request, and an internal error quotes it, as HubSpot calls made for the request send it, so a
//! caller's id, the answer's header, the error and every log line of the request are one value.

use std::future::Future;

tokio::task_local! {
    static CURRENT: String;
}

/// Runs `serving` as the request `id`.
pub async fn scope<F: Future>(id: String, serving: F) -> F::Output {
    CURRENT.scope(id, serving).await
}

/// The id of the request being served; `None` outside a request (sync, appliers).
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok().filter(|id| !id.is_empty())
}

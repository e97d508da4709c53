//! The schema as served: each request is checked around async-graphql's execution, not inside it. A schema with
//! any extension puts every field of an answer through each extension's `resolve` (a boxed future per extension and
//! a registry lookup per field, whatever hooks the extension has): a quarter of the nested query's requests a
//! second at 16 clients. So the request's persisted text, the limits, its operation's name and the answer's field
//! order are handled here, and the schema runs without extensions.

use std::{any::TypeId, sync::Arc};

use async_graphql::{Data, Executor, Request, Response, ServerError, ServerResult};
use futures::{StreamExt, stream::BoxStream};

use crate::{
    Limits, Mutation, Query, field_order::Plan, operation_name::OperationName, slots::SubscriptionSlots,
    subscription::Subscription,
};

/// What a request's text may be besides what it sent: a persisted query's, by its hash (the server's persisted and
/// registered operations). Seen before the limits, so they check the text that will run.
#[async_graphql::async_trait::async_trait]
pub trait Persisted: Send + Sync + 'static {
    /// Puts the text `request` runs into it, or refuses it; `Some(hash)` asks for its text to be kept under `hash`
    /// once it has passed the limits and validation.
    async fn resolve(&self, request: &mut Request) -> ServerResult<Option<String>>;

    /// Keeps `text` under `hash`: it passed the limits and validation.
    async fn keep(&self, hash: String, text: Arc<str>);
}

/// The gateway's schema: async-graphql's, with the checks each request passes first.
#[derive(Clone)]
pub struct GatewaySchema {
    schema: async_graphql::Schema<Query, Mutation, Subscription>,
    limits: Limits,
    persisted: Option<Arc<dyn Persisted>>,
}

/// A request ready to run, with what is done after it runs.
struct Prepared {
    request: Request,
    plan: Option<Plan>,
    keep: Option<(String, Arc<str>)>,
}

impl GatewaySchema {
    pub(crate) fn new(schema: async_graphql::Schema<Query, Mutation, Subscription>, limits: Limits) -> Self {
        Self { schema, limits, persisted: None }
    }

    /// Runs persisted and registered operations through `persisted`.
    pub fn with_persisted(self, persisted: Arc<dyn Persisted>) -> Self {
        Self { persisted: Some(persisted), ..self }
    }

    /// The SDL of the schema.
    pub fn sdl(&self) -> String {
        self.schema.sdl()
    }

    /// Runs a query or mutation.
    pub async fn execute(&self, request: impl Into<Request>) -> Response {
        let prepared = match self.prepare(request.into()).await {
            Ok(prepared) => prepared,
            Err(error) => return Response::from_errors(vec![error]),
        };
        let response = self.schema.execute(prepared.request).await;
        self.answered(response, prepared.keep, prepared.plan.as_ref()).await
    }

    /// Runs a subscription (or any operation sent over a socket).
    async fn stream(self, request: Request, session: Option<Arc<Data>>) -> BoxStream<'static, Response> {
        let Prepared { request, plan, mut keep } = match self.prepare(request).await {
            Ok(prepared) => prepared,
            Err(error) => return futures::stream::once(async { Response::from_errors(vec![error]) }).boxed(),
        };
        let plan = plan.map(Arc::new);
        Executor::execute_stream(&self.schema, request, session)
            .then(move |response| {
                // Only the first answer can keep the text: it is the one validation's refusal would be.
                let (this, keep, plan) = (self.clone(), keep.take(), plan.clone());
                async move { this.answered(response, keep, plan.as_deref()).await }
            })
            .boxed()
    }

    /// What follows each answer: the text kept under its hash when it asked to be and passed validation, and the
    /// fields put in the order asked.
    async fn answered(
        &self,
        mut response: Response,
        keep: Option<(String, Arc<str>)>,
        plan: Option<&Plan>,
    ) -> Response {
        if let (Some(persisted), Some((hash, text))) = (&self.persisted, keep)
            && validated(&response)
        {
            persisted.keep(hash, text).await;
        }
        if let Some(plan) = plan {
            plan.order(&mut response.data);
        }
        response
    }

    /// The text `request` runs, checked by the limits and parsed, or the refusal.
    async fn prepare(&self, mut request: Request) -> ServerResult<Prepared> {
        let hash = match &self.persisted {
            Some(persisted) => persisted.resolve(&mut request).await?,
            None => None,
        };
        if let Err(refused) = self.limits.check_request(&request) {
            if let Some(name) = data::<OperationName>(&request.data) {
                name.note_text(&request.query);
            }
            return Err(refused);
        }
        let document = async_graphql::parser::parse_query(&request.query)?;
        // Named before the limits look at it, so a refusal is counted under its operation.
        if let Some(name) = data::<OperationName>(&request.data) {
            name.note(&document);
        }
        self.limits.check_document(&document, &request.variables)?;
        let plan = Plan::of(&document, request.operation_name.as_deref());
        let keep = hash.map(|hash| (hash, Arc::from(request.query.as_str())));
        request.set_parsed_query(document);
        Ok(Prepared { request, plan, keep })
    }
}

impl Executor for GatewaySchema {
    async fn execute(&self, request: Request) -> Response {
        GatewaySchema::execute(self, request).await
    }

    /// Takes the socket's slots at once, as the socket's messages arrive (its streams are first polled in no
    /// particular order).
    fn execute_stream(&self, request: Request, session: Option<Arc<Data>>) -> BoxStream<'static, Response> {
        let slots = session.as_deref().and_then(data::<SubscriptionSlots>).cloned();
        let stream = futures::stream::once(self.clone().stream(request, session)).flatten().boxed();
        match slots {
            Some(slots) => slots.hold(stream),
            None => stream,
        }
    }
}

/// The value of type `T` in `data`, if any.
fn data<T: 'static>(data: &Data) -> Option<&T> {
    data.get(&TypeId::of::<T>()).and_then(|value| value.downcast_ref::<T>())
}

/// Whether a response's operation passed validation: it answered data, or its errors arose while running (each at
/// a path). A refusal before running has no data and errors at no path.
fn validated(response: &Response) -> bool {
    response.data != async_graphql::Value::Null
        || response.errors.iter().all(|error: &ServerError| !error.path.is_empty())
}

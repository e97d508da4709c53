//! Log lines, and traces when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: every span (a request, a DataLoader batch, an
//! SQL statement, a HubSpot call) is exported to that OTLP collector over HTTP/protobuf, with the log lines written
//! inside it as its events. Without the variable no exporter exists and the spans made only for traces are filtered
//! out where they are declared, so they cost nothing.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

/// The target of the spans made only for traces (`otel::loader`, `otel::sql`, `otel::hubspot`): log lines leave
/// them out, so each line's span stays the request's, with its id.
const TARGET_PREFIX: &str = "otel";

/// What traces hold, whatever `RUST_LOG` keeps in the log: every span and event at `info` or above.
const SPANS: &str = "info";

/// The variable that turns traces on.
const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// The service the spans are said to come from unless `OTEL_SERVICE_NAME` names another.
const SERVICE_NAME: &str = "hubspot-gateway";

/// The exporter, kept to send what it still holds at a clean stop.
#[must_use = "dropping it before the stop loses the spans not yet sent"]
pub struct Traces(Option<SdkTracerProvider>);

impl Traces {
    /// Sends the spans not yet exported and stops the exporter (nothing without one).
    pub fn flush(&self) {
        if let Some(provider) = &self.0
            && let Err(err) = provider.shutdown()
        {
            tracing::warn!(error = %err, "the last spans were not all exported");
        }
    }
}

/// Log lines on standard output, as text or one JSON object a line (`LOG_FORMAT=json`), filtered by `RUST_LOG`;
/// and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans exported to it.
pub fn init(json: bool) -> anyhow::Result<Traces> {
    let logs = tracing_subscriber::fmt::layer();
    let logs = if json {
        // The request's id (its span) sits beside each line's own fields; the whole span list would repeat it.
        logs.json().with_current_span(true).with_span_list(false).boxed()
    } else {
        logs.boxed()
    };
    let logs = logs.with_filter(filter().add_directive(format!("{TARGET_PREFIX}=off").parse()?));
    let provider = match std::env::var(ENDPOINT).ok().filter(|v| !v.trim().is_empty()) {
        Some(_) => Some(provider()?),
        None => None,
    };
    let spans = provider.as_ref().map(|provider| {
        let tracer = provider.tracer(SERVICE_NAME);
        tracing_opentelemetry::layer().with_tracer(tracer).with_filter(EnvFilter::new(SPANS))
    });
    tracing_subscriber::registry().with(logs).with(spans).init();
    if provider.is_some() {
        // Not the address itself: it may hold credentials.
        tracing::info!("exporting traces to OTEL_EXPORTER_OTLP_ENDPOINT");
    }
    Ok(Traces(provider))
}

/// `RUST_LOG`, or `info`.
fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into())
}

/// The OTLP/HTTP exporter (its endpoint and headers from the standard `OTEL_EXPORTER_OTLP_*` variables) behind a
/// batch processor (its own thread; `OTEL_BSP_*` set its schedule); W3C `traceparent` as the propagation format.
fn provider() -> anyhow::Result<SdkTracerProvider> {
    use anyhow::Context;
    use opentelemetry_otlp::WithExportConfig;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .build()
        .context("the OTLP span exporter (OTEL_EXPORTER_OTLP_ENDPOINT)")?;
    let name = std::env::var("OTEL_SERVICE_NAME").ok().filter(|v| !v.trim().is_empty());
    let resource = Resource::builder().with_service_name(name.unwrap_or_else(|| SERVICE_NAME.to_owned())).build();
    let provider = SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build();
    opentelemetry::global::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
    Ok(provider)
}

/// The W3C `traceparent` (and `tracestate`) of the current span, for an outgoing call; none when traces are off.
pub fn propagation_headers() -> Vec<(String, String)> {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let context = tracing::Span::current().context();
    let mut headers = std::collections::HashMap::new();
    opentelemetry::global::get_text_map_propagator(|propagator| propagator.inject_context(&context, &mut headers));
    headers.into_iter().collect()
}

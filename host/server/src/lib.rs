//! `polyplug serve`: the host over HTTP, on axum.
//!
//! | route | what it does |
//! |---|---|
//! | `POST /v1/plugins/{plugin}/{function}` | the body is the input; the plugin's JSON output comes back |
//! | `GET /v1/plugins` | every plugin: its current generation (sha256, signed version, loaded at), functions, limits, live counters, calls still draining on older generations, reloads and the last reload error; and `not_loaded`, plugins whose first version failed |
//! | `POST /v1/pipelines/{pipeline}` | the body is the first step's input; the last step's output comes back (`?trace=true`: `{"output", "trace": [{"plugin", "function", "output", "ms"}]}`) |
//! | `GET /healthz` | the process is up |
//! | `GET /readyz` | it takes calls (503 once shutdown has begun) |
//! | `GET /metrics` | OpenMetrics text (`prometheus-client`; `metrics.rs`) |
//!
//! A failed call answers with the status [`status_of`] picks and a body
//! `{"error": {"kind", "code"?, "message", "plugin", "function"}}`.
//!
//! [`admin`] holds what the admin API stands on: the version store and the
//! bearer tokens.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub mod admin;
mod metrics;
pub mod watch;

use polyplug::ServerConfig;
use polyplug::format_size;
use polyplug::{CallError, Host, PipelineError};

#[derive(Clone)]
struct App {
    host: Arc<Host>,
    ready: Arc<AtomicBool>,
    body_limit: u64,
    metrics: Arc<prometheus_client::registry::Registry>,
}

/// The routes, for tests or for nesting into another axum app.
pub fn router(host: Arc<Host>, config: &ServerConfig) -> Router {
    router_with(host, config, Arc::new(AtomicBool::new(true)))
}

fn router_with(host: Arc<Host>, config: &ServerConfig, ready: Arc<AtomicBool>) -> Router {
    let app = App {
        metrics: Arc::new(metrics::registry(Host::clone(&host))),
        host,
        ready,
        body_limit: config.body_limit,
    };
    Router::new()
        .route("/v1/plugins/{plugin}/{function}", post(call))
        .route("/v1/plugins", get(list))
        .route("/v1/pipelines/{pipeline}", post(pipeline))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readiness))
        .route("/metrics", get(self::metrics))
        .layer(DefaultBodyLimit::max(
            usize::try_from(config.body_limit).unwrap_or(usize::MAX),
        ))
        .with_state(app)
}

/// Serves until `shutdown` resolves, then stops taking connections, lets
/// in-flight requests finish for up to `shutdown_grace`, and returns.
pub async fn serve(
    host: Arc<Host>,
    listener: tokio::net::TcpListener,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let ready = Arc::new(AtomicBool::new(true));
    let (began, mut began_rx) = tokio::sync::watch::channel(false);
    let signal = {
        let ready = ready.clone();
        async move {
            shutdown.await;
            ready.store(false, Ordering::SeqCst);
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = began.send(true);
        }
    };
    let app = router_with(host, config, ready);
    let server = axum::serve(listener, app).with_graceful_shutdown(signal);
    let grace = config.shutdown_grace;
    let deadline = async move {
        let _ = began_rx.wait_for(|began| *began).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!(grace = %humantime::format_duration(grace), "shutdown grace ran out; dropping the requests still running");
            Ok(())
        }
    }
}

async fn call(
    State(app): State<App>,
    Path((plugin, function)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return body_rejected(&app, &plugin, &function, rejection),
    };
    match app.host.call_json(&plugin, &function, body).await {
        Ok(output) => return_output(output),
        Err(err) => {
            tracing::debug!(kind = err.kind(), "{err}");
            error_response(&err)
        }
    }
}

async fn pipeline(
    State(app): State<App>,
    Path(name): Path<String>,
    uri: axum::http::Uri,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return body_rejected(&app, &name, "", rejection),
    };
    let trace = uri.query().is_some_and(|query| {
        query
            .split('&')
            .any(|pair| pair == "trace=true" || pair == "trace=1")
    });
    let run = match trace {
        false => app.host.call_pipeline(&name, body).await.map(return_output),
        true => app
            .host
            .call_pipeline_traced(&name, body)
            .await
            .map(|run| traced(&run)),
    };
    run.unwrap_or_else(|err| {
        tracing::debug!(kind = err.kind(), "{err}");
        pipeline_error_response(&err)
    })
}

fn return_output(output: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], output).into_response()
}

/// A traced run: the output, and every step's.
fn traced(run: &polyplug::PipelineRun) -> Response {
    // Outputs passed the contract's check, so they parse.
    let parse = |bytes: &[u8]| serde_json::from_slice::<Value>(bytes).unwrap_or(Value::Null);
    let steps: Vec<Value> = (run.trace.iter())
        .map(|step| {
            json!({
                "plugin": step.plugin,
                "function": step.function,
                "output": parse(&step.output),
                "ms": step.elapsed.as_secs_f64() * 1e3,
            })
        })
        .collect();
    axum::Json(json!({"output": parse(&run.output), "trace": steps})).into_response()
}

/// A failed pipeline: the failing step's status and error, with the step
/// named.
fn pipeline_error_response(err: &PipelineError) -> Response {
    let (status, mut error) = match err {
        PipelineError::Step { source, .. } => {
            let response = error_body(source);
            (status_of(source), response)
        }
        PipelineError::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, json!({"kind": err.kind()})),
        _ => (StatusCode::NOT_FOUND, json!({"kind": err.kind()})),
    };
    error["message"] = Value::from(err.to_string());
    match err {
        PipelineError::Step {
            pipeline,
            index,
            plugin,
            function,
            ..
        } => {
            error["pipeline"] = Value::from(pipeline.as_str());
            error["step"] = json!({"index": index, "plugin": plugin, "function": function});
        }
        PipelineError::Timeout {
            pipeline, index, ..
        } => {
            error["pipeline"] = Value::from(pipeline.as_str());
            error["step"] = json!({ "index": index });
        }
        PipelineError::UnknownPipeline { pipeline } => {
            error["pipeline"] = Value::from(pipeline.as_str());
        }
        _ => {}
    }
    (status, axum::Json(json!({ "error": error }))).into_response()
}

/// The HTTP status a failed call answers with.
pub fn status_of(err: &CallError) -> StatusCode {
    match err {
        CallError::UnknownPlugin { .. } | CallError::UnknownFunction { .. } => {
            StatusCode::NOT_FOUND
        }
        CallError::InvalidInput { .. } => StatusCode::BAD_REQUEST,
        CallError::InputTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        CallError::Plugin { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        CallError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
        CallError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        // The plugin answered, but not with what the contract allows.
        CallError::OutputTooLarge { .. }
        | CallError::InvalidOutput { .. }
        | CallError::OutputType { .. } => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn error_response(err: &CallError) -> Response {
    let error = error_body(err);
    let mut response = (status_of(err), axum::Json(json!({ "error": error }))).into_response();
    if matches!(err, CallError::Busy { .. }) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    response
}

/// A failed call's `error` object, as the API answers it (the CLI's
/// `call --error-json` prints the same).
pub fn error_body(err: &CallError) -> Value {
    let (plugin, function) = err.target();
    let mut error = json!({
        "kind": err.kind(),
        "message": err.to_string(),
        "plugin": plugin,
        "function": function,
    });
    if let CallError::Plugin { code, .. } = err {
        error["code"] = Value::from(code.as_str());
    }
    error
}

fn body_rejected(app: &App, plugin: &str, function: &str, rejection: BytesRejection) -> Response {
    let (status, kind, message) = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "input_too_large",
            format!(
                "the request body is over the server's `body_limit` of {}",
                format_size(app.body_limit)
            ),
        )
    } else {
        (rejection.status(), "invalid_input", rejection.body_text())
    };
    let error = json!({"kind": kind, "message": message, "plugin": plugin, "function": function});
    (status, axum::Json(json!({ "error": error }))).into_response()
}

async fn list(State(app): State<App>) -> axum::Json<Value> {
    let plugins: Vec<Value> = app
        .host
        .plugins()
        .map(|p| {
            let l = &p.limits;
            json!({
                "name": p.name,
                "functions": p.functions,
                "language": p.language,
                "sha256": p.sha256,
                "version": p.version.as_ref().map(ToString::to_string),
                "signed_by": p.signed_by,
                "wasi": p.wasi,
                "load_ms": p.load_time.as_secs_f64() * 1e3,
                "loaded_at": humantime::format_rfc3339_millis(p.loaded_at).to_string(),
                "calls_draining": p.calls_draining,
                "reloads": reloads(&p.reloads),
                "limits": {
                    "timeout_ms": l.timeout.as_millis() as u64,
                    "memory": l.memory,
                    "fuel": l.fuel,
                    "init_fuel": l.init_fuel,
                    "max_input": l.max_input,
                    "max_output": l.max_output,
                    "max_http_response": l.max_http_response,
                    "instances": l.instances,
                    "queue_timeout_ms": l.queue_timeout.as_millis() as u64,
                    "max_kv_key": l.max_kv_key,
                    "max_kv_value": l.max_kv_value,
                    "max_kv_namespace_bytes": l.max_kv_namespace_bytes,
                    "max_kv_namespace_keys": l.max_kv_namespace_keys,
                    "max_kv_operations": l.max_kv_operations,
                },
                "kv": p.kv.as_ref().map(|grant| json!({
                    "store": grant.store,
                    "namespace": match &grant.namespace {
                        polyplug::KvNamespace::Shared(name) => Some(name.as_str()),
                        _ => None,
                    },
                })),
                "instances_busy": p.instances_busy,
                "calls": p.totals.calls,
                "errors": p.totals.errors,
                "fuel_consumed": p.totals.fuel,
            })
        })
        .collect();
    // Plugins whose first version failed to load have no generation to
    // list, but their error must show somewhere.
    let loaded: Vec<&str> = plugins.iter().filter_map(|p| p["name"].as_str()).collect();
    let not_loaded: Vec<Value> = app
        .host
        .reloads()
        .iter()
        .filter(|(name, status)| !loaded.contains(&name.as_str()) && status.last_error.is_some())
        .map(|(name, status)| json!({"name": name, "reloads": reloads(status)}))
        .collect();
    axum::Json(json!({ "plugins": plugins, "not_loaded": not_loaded }))
}

fn reloads(status: &polyplug::ReloadStatus) -> Value {
    json!({
        "succeeded": status.succeeded,
        "failed": status.failed,
        "last_error": status.last_error.as_ref().map(|failure| json!({
            "kind": failure.kind,
            "message": failure.message,
            "at": humantime::format_rfc3339_millis(failure.at).to_string(),
        })),
    })
}

async fn readiness(State(app): State<App>) -> (StatusCode, &'static str) {
    if app.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    }
}

async fn metrics(State(app): State<App>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics::encode(&app.metrics),
    )
        .into_response()
}

//! The admin API's routes, on a listener of their own (`[admin] listen`).
//!
//! | route | what it does |
//! |---|---|
//! | `POST /admin/plugins/{name}/versions` | stores the body (a binary module) as a version of `name`; its signature rides in `X-Polyplug-Signature` (the `.minisig` text, base64) |
//! | `GET /admin/plugins/{name}/versions` | the stored versions, and which is active |
//! | `PUT /admin/plugins/{name}/active` | `{"sha256", "expected_current"?, "force"?}`: stages that version, then makes it the one serving |
//! | `POST /admin/plugins/{name}/rollback` | `{"expected_current"?}` or no body: back to the version active before |
//! | `POST /admin/reload` | re-reads the config file, the store's active versions laid over it |
//!
//! Every request needs `Authorization: Bearer <token>` (401 without one,
//! 403 with a wrong one), and every action writes one audit line (target
//! `polyplug::audit`: token id, action, plugin, result). An upload grants
//! nothing: a version runs with the limits and grants the operator's
//! config gives its plugin name, and a name the config does not have is
//! refused. Errors answer with the public API's body,
//! `{"error": {"kind", "message", "plugin"?}}`.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use base64::Engine as _;
use polyplug::{Change, Host, HostConfig, LoadError, PluginConfig, Reload, WasmSource};
use serde_json::{Value, json};

use super::store::{Entry, Record, Sha256, Store, StoreError};
use super::tokens::{AuthError, TOKEN_ENV, TokenError, TokenId, Tokens};

/// The header an upload's signature rides in.
pub const SIGNATURE_HEADER: &str = "x-polyplug-signature";

/// The admin API of one host: its tokens, its version store, and the lock
/// every change takes.
pub struct Admin {
    tokens: Tokens,
    store: Store,
    /// The config file: read afresh by every action, so that what a
    /// version may do is always what the operator's config says now.
    file: PathBuf,
    /// Held by every change of the store or the host: an admin action,
    /// and every reload (SIGHUP and `--watch` too), so that none sees the
    /// store and the host half-changed.
    changing: Mutex<()>,
}

/// Why the admin API could not start, or a reload through it failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    #[error("admin API: {0}")]
    Tokens(#[from] TokenError),
    #[error("admin API: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("the admin API needs a config file to read, and this host has none")]
    NoConfigFile,
}

impl Admin {
    /// The admin API `config` asks for, or `None` when no token is
    /// configured (neither `[admin] tokens_file` nor `env_token`, the
    /// value of `POLYPLUG_ADMIN_TOKEN`): its tokens read and its store
    /// opened (and locked, so one process at a time owns it). Open it
    /// before loading the host, and lay the store's active versions over
    /// the config with [`Admin::overlay`].
    pub fn open(config: &HostConfig, env_token: Option<&str>) -> Result<Option<Self>, AdminError> {
        let admin = &config.admin;
        let tokens = match Tokens::load(admin.tokens_file.as_deref(), env_token) {
            Ok(tokens) => tokens,
            Err(TokenError::NotConfigured) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        let file = config.file.clone().ok_or(AdminError::NoConfigFile)?;
        Ok(Some(Self {
            tokens,
            store: Store::open(&admin.store)?,
            file,
            changing: Mutex::new(()),
        }))
    }

    /// The environment variable a token may come from.
    pub const TOKEN_ENV: &str = TOKEN_ENV;

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Makes each plugin of `config` that has an active version in the
    /// store load that version instead of its `wasm` file. Its limits and
    /// grants stay the config's.
    pub fn overlay(&self, config: &mut HostConfig) -> Result<(), StoreError> {
        for (name, entry) in self.store.active()? {
            if let Some(plugin) = config.plugins.get_mut(&name) {
                *plugin = self.version_of(plugin.clone(), &entry.sha256)?;
            }
        }
        Ok(())
    }

    /// Re-reads the config file, lays the store's active versions over it
    /// and applies it to `host` ([`Host::apply`]).
    pub fn reload(&self, host: &Host) -> Result<Reload, AdminError> {
        let _changing = self.lock();
        let mut config = HostConfig::from_file(&self.file)?;
        self.overlay(&mut config)?;
        Ok(host.apply(config))
    }

    /// Serves the routes on `listener` until `shutdown` resolves, then
    /// lets requests in flight finish.
    pub async fn serve(
        self: Arc<Self>,
        host: Host,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router(host))
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// The routes, over `host`.
    pub fn router(self: Arc<Self>, host: Host) -> Router {
        Router::new()
            .route("/admin/plugins/{name}/versions", post(upload).get(versions))
            .route("/admin/plugins/{name}/active", put(activate))
            .route("/admin/plugins/{name}/rollback", post(rollback))
            .route("/admin/reload", post(reload))
            // An upload is checked against its plugin's own `max_module`.
            .layer(DefaultBodyLimit::disable())
            .with_state(Api { admin: self, host })
    }

    /// `plugin` loading the stored version `sha256`, with its signature.
    fn version_of(
        &self,
        mut plugin: PluginConfig,
        sha256: &Sha256,
    ) -> Result<PluginConfig, StoreError> {
        plugin.wasm = WasmSource::File(self.store.module_path(sha256));
        plugin.signature = self.store.read_signature(sha256)?.map(Arc::from);
        Ok(plugin)
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.changing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The operator's config for `name`, read now.
    fn plugin_config(&self, name: &str) -> Result<PluginConfig, Failure> {
        let config = HostConfig::from_file(&self.file).map_err(|err| {
            Failure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                err.kind(),
                err.to_string(),
            )
        })?;
        config.plugins.get(name).cloned().ok_or_else(|| {
            Failure::new(
                StatusCode::NOT_FOUND,
                "unknown_plugin",
                format!(
                    "plugin `{name}` is not in the config `{}`: versions can be uploaded only for plugins the operator configured",
                    self.file.display()
                ),
            )
        })
    }
}

#[derive(Clone)]
struct Api {
    admin: Arc<Admin>,
    host: Host,
}

/// A refused admin action: its status and the error body's kind and message.
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    kind: String,
    message: String,
}

impl Failure {
    fn new(status: StatusCode, kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            kind: kind.into(),
            message: message.into(),
        }
    }

    fn bad_request(kind: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, kind, message)
    }
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Self {
        let (status, kind) = match &err {
            StoreError::InvalidPluginName { .. } => {
                (StatusCode::BAD_REQUEST, "invalid_plugin_name")
            }
            StoreError::InvalidSha256 { .. } => (StatusCode::BAD_REQUEST, "invalid_sha256"),
            StoreError::InvalidVersion { .. } => (StatusCode::BAD_REQUEST, "invalid_version"),
            StoreError::SignatureTooLarge { .. } => {
                (StatusCode::BAD_REQUEST, "signature_malformed")
            }
            StoreError::UnknownVersion { .. } => (StatusCode::NOT_FOUND, "unknown_version"),
            StoreError::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
            StoreError::NoPrevious { .. } => (StatusCode::CONFLICT, "no_previous"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "store"),
        };
        Self::new(status, kind, err.to_string())
    }
}

/// A version that failed to stage: 409 for a downgrade (the live version
/// is the conflict), 422 for everything else.
fn refused(err: &LoadError) -> Failure {
    let status = match err.kind() {
        "downgrade" => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    Failure::new(status, err.kind(), err.to_string())
}

type Outcome = Result<(StatusCode, Value), Failure>;

/// Authorizes the request, runs `work` where it may block (store I/O,
/// staging), writes the audit line and answers.
async fn act(
    api: Api,
    headers: &HeaderMap,
    action: &'static str,
    plugin: Option<String>,
    work: impl FnOnce(&Api, &str) -> Outcome + Send + 'static,
) -> Response {
    let token = match api
        .admin
        .tokens
        .check(headers.get(axum::http::header::AUTHORIZATION))
    {
        Ok(token) => token.clone(),
        Err(err) => {
            let kind = match err {
                AuthError::Wrong => "forbidden",
                _ => "unauthorized",
            };
            tracing::warn!(target: "polyplug::audit", token = "-", action, plugin = plugin.as_deref().unwrap_or("-"), result = kind, "{err}");
            return answer(
                Err(Failure::new(err.status(), kind, err.to_string())),
                plugin.as_deref(),
            );
        }
    };
    let name = plugin.clone().unwrap_or_default();
    let outcome = tokio::task::spawn_blocking(move || work(&api, &name))
        .await
        .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()));
    audit(&token, action, plugin.as_deref(), &outcome);
    answer(outcome, plugin.as_deref())
}

fn audit(token: &TokenId, action: &str, plugin: Option<&str>, outcome: &Outcome) {
    let plugin = plugin.unwrap_or("-");
    match outcome {
        Ok((_, body)) => {
            let detail = body
                .get("active")
                .and_then(Value::as_str)
                .or(body.get("sha256").and_then(Value::as_str))
                .unwrap_or("");
            tracing::info!(target: "polyplug::audit", token = %token, action, plugin, result = "ok", sha256 = detail);
        }
        Err(failure) => {
            tracing::warn!(target: "polyplug::audit", token = %token, action, plugin, result = %failure.kind, "{}", failure.message);
        }
    }
}

fn answer(outcome: Outcome, plugin: Option<&str>) -> Response {
    match outcome {
        Ok((status, body)) => (status, axum::Json(body)).into_response(),
        Err(failure) => {
            let mut error = json!({"kind": failure.kind, "message": failure.message});
            if let Some(plugin) = plugin {
                error["plugin"] = Value::from(plugin);
            }
            (failure.status, axum::Json(json!({ "error": error }))).into_response()
        }
    }
}

async fn upload(
    State(api): State<Api>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // The body is read before the work, within the plugin's `max_module`;
    // until the token is checked, nothing is read past the cap of a
    // plugin the config names.
    let limit = match api
        .admin
        .tokens
        .check(headers.get(axum::http::header::AUTHORIZATION))
    {
        Ok(_) => api
            .admin
            .plugin_config(&name)
            .map(|plugin| plugin.limits.max_module)
            .unwrap_or(0),
        Err(_) => 0,
    };
    let bytes = axum::body::to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX)).await;
    let signature = headers
        .get(SIGNATURE_HEADER)
        .map(|value| value.as_bytes().to_vec());
    act(api, &headers, "upload", Some(name), move |api, name| {
        let plugin = api.admin.plugin_config(name)?;
        let limit = plugin.limits.max_module;
        let bytes = bytes.map_err(|_| {
            Failure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "module_too_large",
                format!(
                    "plugin `{name}`: the upload is over its `max_module` limit of {}",
                    polyplug::format_size(limit)
                ),
            )
        })?;
        if !bytes.starts_with(b"\0asm") {
            return Err(Failure::bad_request(
                "invalid_module",
                "an upload is a binary wasm module (it does not start with `\\0asm`)",
            ));
        }
        let signature = signature
            .map(|encoded| decode_signature(&encoded))
            .transpose()?;
        let version = check_signature(name, &plugin, &bytes, signature.as_deref())?;
        let stored = api.admin.store.put(
            name,
            &bytes,
            signature.as_deref(),
            version.as_ref().map(ToString::to_string).as_deref(),
        )?;
        let status = if stored.new {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok((
            status,
            json!({
                "sha256": stored.entry.sha256.as_str(),
                "version": stored.entry.version,
                "new": stored.new,
            }),
        ))
    })
    .await
}

/// The `.minisig` text from the header's base64.
fn decode_signature(encoded: &[u8]) -> Result<String, Failure> {
    let malformed = |why: &str| {
        Failure::bad_request("signature_malformed", format!("`{SIGNATURE_HEADER}` {why}"))
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim_ascii())
        .map_err(|_| malformed("is not base64"))?;
    String::from_utf8(bytes).map_err(|_| malformed("does not decode to minisign signature text"))
}

/// The signed version of an upload: checked now, so that an upload the
/// plugin's keys would refuse is refused at once rather than at
/// activation (which checks it again).
fn check_signature(
    name: &str,
    plugin: &PluginConfig,
    module: &[u8],
    signature: Option<&str>,
) -> Result<Option<polyplug::signature::Version>, Failure> {
    let sign_error = |err: polyplug::SignatureError| {
        Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            err.kind(),
            format!("plugin `{name}`: {err}"),
        )
    };
    match signature {
        None if plugin.signature_required => Err(sign_error(polyplug::SignatureError::Missing {
            looked_for: format!("the `{SIGNATURE_HEADER}` header"),
        })),
        None => Ok(None),
        Some(_) if plugin.trusted_keys.is_empty() => Ok(None),
        Some(signature) => {
            let sha256 = Sha256::of(module);
            polyplug::signature::verify(
                name,
                module,
                sha256.as_str(),
                signature,
                &plugin.trusted_keys,
            )
            .map(|signed| Some(signed.version))
            .map_err(sign_error)
        }
    }
}

async fn versions(
    State(api): State<Api>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    act(api, &headers, "list", Some(name), |api, name| {
        let record = api.admin.store.record(name)?;
        Ok((StatusCode::OK, describe(&record)))
    })
    .await
}

fn describe(record: &Record) -> Value {
    let versions: Vec<Value> = record
        .versions
        .iter()
        .map(|entry| {
            json!({
                "sha256": entry.sha256.as_str(),
                "version": entry.version,
                "size": entry.size,
                "uploaded_at": entry.uploaded_at,
                "active": record.active.as_ref() == Some(&entry.sha256),
            })
        })
        .collect();
    json!({
        "plugin": record.plugin,
        "active": record.active.as_ref().map(Sha256::as_str),
        "versions": versions,
    })
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Activation {
    sha256: String,
    expected_current: Option<String>,
    #[serde(default)]
    force: bool,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Rollback {
    expected_current: Option<String>,
}

fn json_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(bytes)
        .map_err(|err| Failure::bad_request("invalid_input", format!("the request body: {err}")))
}

async fn activate(
    State(api): State<Api>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    act(api, &headers, "activate", Some(name), move |api, name| {
        let request: Activation = json_body(&body)?;
        let sha256 = parse_sha256(&request.sha256)?;
        let _changing = api.admin.lock();
        let plugin = api.admin.plugin_config(name)?;
        let record = api.admin.store.record(name)?;
        let entry = record
            .entry(&sha256)
            .cloned()
            .ok_or_else(|| StoreError::UnknownVersion {
                plugin: name.to_string(),
                sha256: sha256.clone(),
            })?;
        let live = check_current(api, name, request.expected_current.as_deref())?;
        if record.active.is_none() {
            keep_baseline(api, name, &plugin, live.as_deref());
        }
        let version = api.admin.version_of(plugin, &sha256)?;
        let staged = match request.force {
            true => api.host.replace_allowing_downgrade(name, version),
            false => api.host.replace(name, version),
        };
        staged.map_err(|err| refused(&err))?;
        api.admin.store.activate(name, &sha256, None)?;
        Ok((StatusCode::OK, activated(name, &entry, live)))
    })
    .await
}

async fn rollback(
    State(api): State<Api>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    act(api, &headers, "rollback", Some(name), move |api, name| {
        let request: Rollback = match body.is_empty() {
            true => Rollback::default(),
            false => json_body(&body)?,
        };
        let _changing = api.admin.lock();
        let plugin = api.admin.plugin_config(name)?;
        let record = api.admin.store.record(name)?;
        let previous = record
            .history
            .last()
            .cloned()
            .ok_or_else(|| StoreError::NoPrevious {
                plugin: name.to_string(),
            })?;
        let live = check_current(api, name, request.expected_current.as_deref())?;
        let entry = record
            .entry(&previous)
            .cloned()
            .ok_or_else(|| StoreError::UnknownVersion {
                plugin: name.to_string(),
                sha256: previous.clone(),
            })?;
        let version = api.admin.version_of(plugin, &previous)?;
        api.host
            .replace_allowing_downgrade(name, version)
            .map_err(|err| refused(&err))?;
        api.admin.store.rollback(name, None)?;
        Ok((StatusCode::OK, activated(name, &entry, live)))
    })
    .await
}

async fn reload(State(api): State<Api>, headers: HeaderMap) -> Response {
    act(api, &headers, "reload", None, |api, _| {
        let reload = api.admin.reload(&api.host).map_err(|err| match err {
            AdminError::Load(err) => Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                err.kind(),
                err.to_string(),
            ),
            other => Failure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store",
                other.to_string(),
            ),
        })?;
        let status = if reload.is_success() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        Ok((status, report(&reload)))
    })
    .await
}

/// A reload, plugin by plugin, as JSON.
pub fn report(reload: &Reload) -> Value {
    let plugins: serde_json::Map<String, Value> = reload
        .plugins
        .iter()
        .map(|(name, change)| {
            let value = match change {
                Change::Unchanged => json!({"change": "unchanged"}),
                Change::Added { sha256 } => json!({"change": "added", "sha256": sha256}),
                Change::Replaced { from, to } => json!({"change": "replaced", "from": from, "sha256": to}),
                Change::Removed => json!({"change": "removed"}),
                Change::Failed(err) => json!({"change": "failed", "error": {"kind": err.kind(), "message": err.to_string()}}),
                _ => json!({"change": "other"}),
            };
            (name.clone(), value)
        })
        .collect();
    json!({ "plugins": plugins })
}

fn activated(name: &str, entry: &Entry, previous: Option<String>) -> Value {
    json!({
        "plugin": name,
        "active": entry.sha256.as_str(),
        "version": entry.version,
        "previous": previous,
    })
}

fn parse_sha256(text: &str) -> Result<Sha256, Failure> {
    Sha256::from_str(text).map_err(Failure::from)
}

/// The sha256 of the version serving `name` now; a 409 when the request
/// expected another (an admin got there first).
fn check_current(api: &Api, name: &str, expected: Option<&str>) -> Result<Option<String>, Failure> {
    let live = api
        .host
        .plugins()
        .find(|p| p.name == name)
        .map(|p| p.sha256);
    match expected {
        Some(expected) if Some(expected) != live.as_deref() => Err(Failure::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "plugin `{name}`: the active version is {}, not the expected {expected}: another change came first",
                live.as_deref().unwrap_or("none")
            ),
        )),
        _ => Ok(live),
    }
}

/// Before a plugin's first activation, stores the version its config file
/// serves as active, so that a rollback can return to it. Best effort: a
/// file that changed since it loaded is not the live version and is left.
fn keep_baseline(api: &Api, name: &str, plugin: &PluginConfig, live: Option<&str>) {
    let (WasmSource::File(path), Some(live)) = (&plugin.wasm, live) else {
        return;
    };
    let Ok(bytes) = std::fs::read(path) else {
        return;
    };
    if Sha256::of(&bytes).as_str() != live || !bytes.starts_with(b"\0asm") {
        return;
    }
    let signature = std::fs::read_to_string(polyplug::signature::signature_path(path)).ok();
    let version = api
        .host
        .plugins()
        .find(|p| p.name == name)
        .and_then(|p| p.version.map(|v| v.to_string()));
    let kept = api
        .admin
        .store
        .put(name, &bytes, signature.as_deref(), version.as_deref())
        .and_then(|stored| api.admin.store.activate(name, &stored.entry.sha256, None));
    if let Err(err) = kept {
        tracing::warn!(
            plugin = name,
            "cannot keep the config's version for rollback: {err}"
        );
    }
}

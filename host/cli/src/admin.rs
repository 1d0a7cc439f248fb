//! `polyplug admin ...`: a client of a running `polyplug serve`'s admin
//! API, so that an operator (or a CI job) gets each refusal back as an
//! `error[<kind>]` line and exit status 1.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use base64::Engine as _;
use clap::Subcommand;
use polyplug::HostConfig;

/// What to ask the admin API.
#[derive(Subcommand)]
pub enum Action {
    /// Upload a module as a version of a plugin; prints its sha256 and
    /// signed version. Its signature is `<module>.minisig` when that exists.
    Upload {
        plugin: String,
        module: PathBuf,
        /// The `.minisig` to send (default `<module>.minisig`, if present).
        #[arg(long)]
        signature: Option<PathBuf>,
    },
    /// Make a stored version the one serving (staged first: a version that
    /// fails leaves the current one).
    Activate {
        plugin: String,
        sha256: String,
        /// Refuse unless this version is the one serving now.
        #[arg(long)]
        expect: Option<String>,
        /// Allow a signed version lower than the one serving.
        #[arg(long)]
        force: bool,
    },
    /// Go back to the version active before the current one.
    Rollback {
        plugin: String,
        /// Refuse unless this version is the one serving now.
        #[arg(long)]
        expect: Option<String>,
    },
    /// List a plugin's stored versions and which one is active.
    Versions { plugin: String },
    /// Reload the config (with the store's active versions over it).
    Reload,
}

/// Where the admin API is and how to reach it.
pub struct Target {
    /// `http://host:port`: `--admin-url`, else `[admin] listen` of the
    /// config file, else the default `127.0.0.1:8081`.
    pub url: String,
    /// `POLYPLUG_ADMIN_TOKEN`.
    pub token: String,
}

impl Target {
    pub fn new(url: Option<String>, config: &Path) -> anyhow::Result<Self> {
        let token = std::env::var("POLYPLUG_ADMIN_TOKEN")
            .context("set `POLYPLUG_ADMIN_TOKEN` to an admin token of the server")?;
        let url = match url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => {
                let listen = HostConfig::from_file(config)
                    .map(|config| config.admin.listen)
                    .unwrap_or_else(|_| polyplug::AdminConfig::default().listen);
                format!("http://{listen}")
            }
        };
        Ok(Self { url, token })
    }
}

/// Runs `action`: `Ok(true)` when the server accepted it (its answer is
/// printed on stdout), `Ok(false)` when it refused it (its error printed on
/// stderr).
pub fn run(target: &Target, action: Action) -> anyhow::Result<bool> {
    let (method, path, body, signature) = match action {
        Action::Upload {
            plugin,
            module,
            signature,
        } => {
            let bytes = std::fs::read(&module)
                .with_context(|| format!("cannot read module `{}`", module.display()))?;
            let signature_file = signature.or_else(|| {
                Some(polyplug::signature::signature_path(&module)).filter(|p| p.is_file())
            });
            let signature = signature_file
                .map(|file| {
                    std::fs::read(&file)
                        .with_context(|| format!("cannot read signature `{}`", file.display()))
                })
                .transpose()?
                .map(|text| base64::engine::general_purpose::STANDARD.encode(text));
            (
                "POST",
                format!("/admin/plugins/{plugin}/versions"),
                bytes,
                signature,
            )
        }
        Action::Activate {
            plugin,
            sha256,
            expect,
            force,
        } => {
            let body =
                serde_json::json!({"sha256": sha256, "expected_current": expect, "force": force});
            (
                "PUT",
                format!("/admin/plugins/{plugin}/active"),
                body.to_string().into_bytes(),
                None,
            )
        }
        Action::Rollback { plugin, expect } => {
            let body = serde_json::json!({ "expected_current": expect });
            (
                "POST",
                format!("/admin/plugins/{plugin}/rollback"),
                body.to_string().into_bytes(),
                None,
            )
        }
        Action::Versions { plugin } => (
            "GET",
            format!("/admin/plugins/{plugin}/versions"),
            Vec::new(),
            None,
        ),
        Action::Reload => ("POST", "/admin/reload".to_string(), Vec::new(), None),
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .into();
    let url = format!("{}{path}", target.url);
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(&url)
        .header("Authorization", format!("Bearer {}", target.token));
    if let Some(signature) = signature {
        request = request.header("X-Polyplug-Signature", signature);
    }
    let request = request.body(body).context("building the request")?;
    let mut response = agent
        .run(request)
        .with_context(|| format!("cannot reach the admin API at `{url}`"))?;
    let status = response.status();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    if status.is_success() {
        println!("{text}");
        return Ok(true);
    }
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let error = &answer["error"];
    if let (Some(kind), Some(message)) = (error["kind"].as_str(), error["message"].as_str()) {
        eprintln!("error[{kind}]: {message}");
    } else if let Some(plugins) = answer["plugins"].as_object() {
        // A reload that refused some plugins: each refusal, then the report.
        for (name, change) in plugins.iter().filter(|(_, c)| c["change"] == "failed") {
            let error = &change["error"];
            eprintln!(
                "error[{}] plugin `{name}`: {}",
                error["kind"].as_str().unwrap_or("?"),
                error["message"].as_str().unwrap_or("?")
            );
        }
        println!("{text}");
    } else {
        eprintln!("error: the admin API answered {status}: {text}");
    }
    Ok(false)
}

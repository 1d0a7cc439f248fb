//! `polyplug serve`: the public API, the admin API when a token is
//! configured, and reloads on SIGHUP and (with `--watch`) on saved files.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use polyplug::{Change, Host, HostConfig, Reload, ServerConfig};
use polyplug_server::admin::api::Admin;

use crate::{CALL_FAILED, LOAD_FAILED};

/// Loads the host (with the admin store's active versions laid over the
/// config, when the admin API is on) and serves until SIGINT or SIGTERM.
pub async fn run(mut config: HostConfig, server: ServerConfig) -> ExitCode {
    let env_token = std::env::var(Admin::TOKEN_ENV).ok();
    let admin = match Admin::open(&config, env_token.as_deref()) {
        Ok(admin) => admin.map(Arc::new),
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(LOAD_FAILED);
        }
    };
    if let Some(admin) = &admin
        && let Err(err) = admin.overlay(&mut config)
    {
        eprintln!("error: admin API: {err}");
        return ExitCode::from(LOAD_FAILED);
    }
    let admin_listen = config.admin.listen;
    let host = match crate::load(config).await {
        Ok(host) => host,
        Err(exit) => return exit,
    };
    let admin = admin.map(|admin| (admin, admin_listen));
    match serve(host, &server, admin).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(CALL_FAILED)
        }
    }
}

/// How this process reloads: from the config file, with the admin store
/// over it when there is one.
type Reloader = Arc<dyn Fn() + Send + Sync>;

async fn serve(
    host: Host,
    config: &ServerConfig,
    admin: Option<(Arc<Admin>, std::net::SocketAddr)>,
) -> anyhow::Result<()> {
    for plugin in host.plugins() {
        tracing::info!(
            plugin = %plugin.name,
            load_ms = format!("{:.1}", plugin.load_time.as_secs_f64() * 1e3),
            functions = %plugin.functions.join(","),
            version = plugin.version.map(|v| v.to_string()).unwrap_or_default(),
            "loaded"
        );
    }
    let reload: Reloader = match &admin {
        Some((admin, _)) => {
            let (admin, host) = (admin.clone(), host.clone());
            Arc::new(move || log_reload(admin.reload(&host)))
        }
        None => {
            let host = host.clone();
            Arc::new(move || log_reload(host.reload()))
        }
    };
    let _watch = if config.watch {
        let file = host.config_file().context("no config file to watch")?;
        let reload = reload.clone();
        let watch = polyplug_server::watch::watch(&file, move || reload())?;
        tracing::info!("watching the config file and modules for changes");
        Some(watch)
    } else {
        None
    };
    // Installed before the server answers, so that a SIGHUP sent once it
    // is ready never meets the default action (which ends the process).
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(hangups) => {
            tokio::spawn(reload_on_hangup(reload.clone(), hangups));
        }
        Err(error) => tracing::warn!(%error, "cannot handle SIGHUP; reloading on it is off"),
    }
    let (stop, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let stopped = move || {
        let mut stopping = stopping.clone();
        async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        }
    };
    let admin_server = match admin {
        Some((admin, listen)) => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("admin API: cannot listen on `{listen}`"))?;
            tracing::info!(
                address = %listener.local_addr()?,
                store = %admin.store().dir().display(),
                "admin API serving"
            );
            Some(tokio::spawn(admin.serve(host.clone(), listener, stopped())))
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on `{}`", config.listen))?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    polyplug_server::serve(Arc::new(host), listener, config, stopped()).await?;
    if let Some(admin_server) = admin_server {
        admin_server.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

/// Reloads on every SIGHUP, one reload at a time.
#[cfg(unix)]
async fn reload_on_hangup(reload: Reloader, mut hangups: tokio::signal::unix::Signal) {
    while hangups.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading the config");
        let reload = reload.clone();
        if let Err(join) = tokio::task::spawn_blocking(move || reload()).await {
            std::panic::resume_unwind(join.into_panic());
        }
    }
}

/// Logs how a reload went. Each plugin's new version or refusal is logged
/// by the host as it happens; this adds the config's own failure and a
/// summary.
fn log_reload<E: std::fmt::Display>(result: Result<Reload, E>) {
    match result {
        Err(err) => {
            tracing::error!(reason = %err, "config not reloaded; every plugin keeps serving as before");
        }
        Ok(reload) => {
            let count = |f: fn(&Change) -> bool| reload.plugins.values().filter(|c| f(c)).count();
            tracing::info!(
                added = count(|c| matches!(c, Change::Added { .. })),
                replaced = count(|c| matches!(c, Change::Replaced { .. })),
                removed = count(|c| matches!(c, Change::Removed)),
                unchanged = count(|c| matches!(c, Change::Unchanged)),
                failed = count(|c| matches!(c, Change::Failed(_))),
                "reloaded"
            );
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

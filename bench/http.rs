//! The HTTP rows: `POST /v1/plugins/p/greet` through `polyplug::server`
//! against a native axum handler doing the same JSON work, both served from
//! this process and driven by the same load generator ([`crate::load`]) over
//! loopback.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::routing::post;
use tokio::net::TcpListener;

use polyplug::{Host, ServerConfig};

use crate::{GreetInput, Greeting};

async fn native_greet(Json(input): Json<GreetInput>) -> Json<Greeting> {
    Json(Greeting::of(input))
}

/// Serves the native handler at `/greet`; returns its address.
pub async fn serve_native() -> SocketAddr {
    let app = axum::Router::new().route("/greet", post(native_greet));
    serve(app).await
}

/// Serves polyplug's routes for `host`; returns the address.
pub async fn serve_polyplug(host: Arc<Host>) -> SocketAddr {
    serve(polyplug_server::router(host, &ServerConfig::default())).await
}

async fn serve(app: axum::Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

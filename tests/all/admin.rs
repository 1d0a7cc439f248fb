//! The admin API: upload, activate (with compare-and-set), roll back and
//! reload over HTTP; every bad version refused with its own kind and
//! status while the live version keeps answering; tokens; and activations
//! that outlive the process.

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use polyplug::signature::Version;
use polyplug::{Host, HostConfig};
use polyplug_server::admin::api::Admin;
use serde_json::{Value, json};

use crate::support::{HttpResponse, Project, Signer, answer, http_with, module_with_output};

const TOKEN: &str = "an-admin-token-for-tests";

/// A project with plugin `p` answering `1`, its admin API on a loopback
/// port, and the host it changes.
struct Admined {
    project: Project,
    host: Host,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Admined {
    async fn start(extra: &str) -> Self {
        let project = Project::new();
        std::fs::write(project.dir.path().join("p.wasm"), binary("1")).unwrap();
        project.write("tokens", &format!("# admins\n{TOKEN}\n"));
        project.write(
            "polyplug.toml",
            &format!(
                "[admin]\ntokens_file = \"tokens\"\n\n[plugins.p]\nwasm = \"p.wasm\"\n{extra}\n"
            ),
        );
        Self::serve(project).await
    }

    /// Loads the project as `polyplug serve` does: store over config.
    async fn serve(project: Project) -> Self {
        let mut config = HostConfig::from_file(project.config_file()).unwrap();
        let admin = Arc::new(Admin::open(&config, None).unwrap().expect("a token is set"));
        admin.overlay(&mut config).unwrap();
        let host = tokio::task::spawn_blocking(move || Host::new(config))
            .await
            .unwrap()
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(admin.serve(host.clone(), listener, std::future::pending()));
        Self {
            project,
            host,
            addr,
            server,
        }
    }

    /// Stops serving and frees the store (as the process ending would),
    /// leaving the project.
    async fn stop(self) -> Project {
        self.server.abort();
        let _ = self.server.await;
        drop(self.host);
        self.project
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        let bearer = format!("Bearer {TOKEN}");
        let mut all = vec![("Authorization", bearer.as_str())];
        all.extend_from_slice(headers);
        http_with(self.addr, method, path, &all, body).await
    }

    async fn upload(&self, module: &[u8], signature: Option<&str>) -> HttpResponse {
        let encoded = signature.map(|s| base64::engine::general_purpose::STANDARD.encode(s));
        let headers: Vec<(&str, &str)> = encoded
            .iter()
            .map(|e| ("X-Polyplug-Signature", e.as_str()))
            .collect();
        self.request("POST", "/admin/plugins/p/versions", &headers, module)
            .await
    }

    async fn activate(&self, body: Value) -> HttpResponse {
        self.request(
            "PUT",
            "/admin/plugins/p/active",
            &[],
            body.to_string().as_bytes(),
        )
        .await
    }

    /// Uploads `module` and activates it.
    async fn ship(&self, module: &[u8], signature: Option<&str>) -> HttpResponse {
        let uploaded = self.upload(module, signature).await;
        assert!(uploaded.status < 300, "upload: {}", uploaded.text());
        let sha256 = uploaded.json()["sha256"].as_str().unwrap().to_string();
        self.activate(json!({ "sha256": sha256 })).await
    }

    async fn answers(&self, expected: &str) {
        assert_eq!(answer(&self.host, "p").await, expected);
    }
}

/// A binary module whose `answer` writes `text`.
fn binary(text: &str) -> Vec<u8> {
    wat::parse_str(module_with_output("answer", text.as_bytes())).unwrap()
}

fn error_kind(response: &HttpResponse) -> String {
    response.json()["error"]["kind"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_and_activated_version_serves_and_is_listed_as_active() {
    let admin = Admined::start("").await;

    let uploaded = admin.upload(&binary("2"), None).await;
    assert_eq!(uploaded.status, 201, "{}", uploaded.text());
    let sha256 = uploaded.json()["sha256"].as_str().unwrap().to_string();
    let again = admin.upload(&binary("2"), None).await;
    assert_eq!(
        (again.status, again.json()["new"].clone()),
        (200, json!(false))
    );

    let activated = admin.activate(json!({ "sha256": sha256 })).await;
    assert_eq!(activated.status, 200, "{}", activated.text());
    admin.answers("2").await;
    assert_eq!(admin.host.plugins().next().unwrap().sha256, sha256);

    let listed = admin
        .request("GET", "/admin/plugins/p/versions", &[], b"")
        .await
        .json();
    assert_eq!(listed["active"], sha256.as_str());
    let active: Vec<_> = listed["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["active"] == true)
        .collect();
    assert_eq!(active.len(), 1, "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activation_expecting_another_current_version_is_a_conflict() {
    let admin = Admined::start("").await;
    let live = admin.host.plugins().next().unwrap().sha256;
    let sha256 = admin.upload(&binary("2"), None).await.json()["sha256"].clone();

    let stale = admin
        .activate(json!({ "sha256": sha256, "expected_current": "0".repeat(64) }))
        .await;
    assert_eq!(
        (stale.status, error_kind(&stale).as_str()),
        (409, "conflict")
    );
    admin.answers("1").await;

    let fresh = admin
        .activate(json!({ "sha256": sha256, "expected_current": live }))
        .await;
    assert_eq!(fresh.status, 200, "{}", fresh.text());
    admin.answers("2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_returns_to_the_version_before_even_the_configs_own() {
    let admin = Admined::start("").await;
    admin.ship(&binary("2"), None).await;
    admin.ship(&binary("3"), None).await;

    let back = admin
        .request("POST", "/admin/plugins/p/rollback", &[], b"")
        .await;
    assert_eq!(back.status, 200, "{}", back.text());
    admin.answers("2").await;
    admin
        .request("POST", "/admin/plugins/p/rollback", &[], b"")
        .await;
    admin.answers("1").await;

    let none = admin
        .request("POST", "/admin/plugins/p/rollback", &[], b"")
        .await;
    assert_eq!(
        (none.status, error_kind(&none).as_str()),
        (409, "no_previous")
    );
    admin.answers("1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_the_right_token_are_refused() {
    let admin = Admined::start("").await;
    let path = "/admin/plugins/p/versions";

    let missing = http_with(admin.addr, "POST", path, &[], &binary("2")).await;
    assert_eq!(
        (missing.status, error_kind(&missing).as_str()),
        (401, "unauthorized")
    );
    let scheme = http_with(admin.addr, "GET", path, &[("Authorization", TOKEN)], b"").await;
    assert_eq!(scheme.status, 401);
    let wrong = http_with(
        admin.addr,
        "POST",
        path,
        &[("Authorization", "Bearer not-the-admin-token-at-all")],
        &binary("2"),
    )
    .await;
    assert_eq!(
        (wrong.status, error_kind(&wrong).as_str()),
        (403, "forbidden")
    );
    let reload = http_with(admin.addr, "POST", "/admin/reload", &[], b"").await;
    assert_eq!(reload.status, 401);

    let listed = admin.request("GET", path, &[], b"").await.json();
    assert_eq!(listed["versions"], json!([]), "nothing was stored");
    admin.answers("1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_for_a_plugin_not_in_the_config_is_refused() {
    let admin = Admined::start("").await;
    let bearer = format!("Bearer {TOKEN}");
    for name in ["q", "..%2Fp", "P"] {
        let refused = http_with(
            admin.addr,
            "POST",
            &format!("/admin/plugins/{name}/versions"),
            &[("Authorization", &bearer)],
            &binary("2"),
        )
        .await;
        assert_eq!(refused.status, 404, "{name}: {}", refused.text());
    }
    assert!(admin.host.plugins().all(|p| p.name == "p"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_over_the_plugins_max_module_is_refused() {
    let admin = Admined::start("max_module = \"1KiB\"").await;
    let mut large = binary("2");
    large.extend(std::iter::repeat_n(0, 2048));
    let refused = admin.upload(&large, None).await;
    assert_eq!(
        (refused.status, error_kind(&refused).as_str()),
        (413, "module_too_large")
    );
    admin.answers("1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_version_is_refused_with_its_kind_and_the_live_one_keeps_answering() {
    let admin = Admined::start("smoke = [{ function = \"answer\", input = {}, expect = 1 }]").await;
    let not_wasm = admin.upload(b"not wasm at all", None).await;
    assert_eq!(
        (not_wasm.status, error_kind(&not_wasm).as_str()),
        (400, "invalid_module")
    );
    admin.answers("1").await;

    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("garbage after the magic", b"\0asm\x01\0\0\0garbage".to_vec(), "invalid_module"),
        (
            "an unknown import",
            wat::parse_str(r#"(module (import "extism:host/env" "spawn_shell" (func)) (func (export "answer") (result i32) (i32.const 0)))"#).unwrap(),
            "instantiate",
        ),
        (
            "a start-up trap",
            wat::parse_str(r#"(module (func $boom unreachable) (start $boom) (func (export "answer") (result i32) (i32.const 0)))"#).unwrap(),
            "instantiate",
        ),
        ("a failing smoke call", binary("2"), "smoke_mismatch"),
    ];
    for (case, module, kind) in cases {
        let refused = admin.ship(&module, None).await;
        assert_eq!(
            (refused.status, error_kind(&refused).as_str()),
            (422, kind),
            "{case}: {}",
            refused.text()
        );
        admin.answers("1").await;
    }
    let listed = admin
        .request("GET", "/admin/plugins/p/versions", &[], b"")
        .await
        .json();
    let live = admin.host.plugins().next().unwrap().sha256;
    assert_eq!(
        listed["active"],
        live.as_str(),
        "no refused version became active"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_signature_failure_is_refused_with_its_kind() {
    let signer = Signer::new();
    let stranger = Signer::new();
    let project_keys = format!("trusted_keys = [{:?}]", signer.key());
    // The config's own module must be signed too, now that `p` trusts a key.
    let admin = {
        let project = Project::new();
        let first = binary("1");
        std::fs::write(project.dir.path().join("p.wasm"), &first).unwrap();
        project.write("p.wasm.minisig", &signer.sign("p", "1.0.0", &first));
        project.write("tokens", TOKEN);
        project.write(
            "polyplug.toml",
            &format!("[admin]\ntokens_file = \"tokens\"\n[plugins.p]\nwasm = \"p.wasm\"\n{project_keys}\n"),
        );
        Admined::serve(project).await
    };
    let module = binary("2");
    let cases: [(&str, Option<String>, &str); 5] = [
        ("no signature", None, "signature_missing"),
        (
            "another plugin's",
            Some(signer.sign("q", "2.0.0", &module)),
            "signature_wrong_plugin",
        ),
        (
            "an untrusted key's",
            Some(stranger.sign("p", "2.0.0", &module)),
            "signature_unknown_key",
        ),
        (
            "another module's",
            Some(signer.sign("p", "2.0.0", &binary("3"))),
            "signature_invalid",
        ),
        (
            "not a signature",
            Some("untrusted comment: hello\nnonsense\n".to_string()),
            "signature_malformed",
        ),
    ];
    for (case, signature, kind) in cases {
        let refused = admin.upload(&module, signature.as_deref()).await;
        assert_eq!(
            (refused.status, error_kind(&refused).as_str()),
            (422, kind),
            "{case}: {}",
            refused.text()
        );
        admin.answers("1").await;
    }

    let older = admin
        .upload(&module, Some(&signer.sign("p", "0.9.0", &module)))
        .await;
    assert_eq!(older.json()["version"], "0.9.0");
    let sha256 = older.json()["sha256"].clone();
    let downgrade = admin.activate(json!({ "sha256": sha256 })).await;
    assert_eq!(
        (downgrade.status, error_kind(&downgrade).as_str()),
        (409, "downgrade")
    );
    admin.answers("1").await;

    let forced = admin
        .activate(json!({ "sha256": sha256, "force": true }))
        .await;
    assert_eq!(forced.status, 200, "{}", forced.text());
    admin.answers("2").await;
    assert_eq!(
        admin.host.plugins().next().unwrap().version,
        Some(Version::new(0, 9, 0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activated_version_survives_a_restart_and_a_config_reload() {
    let admin = Admined::start("").await;
    admin.ship(&binary("2"), None).await;
    let reloaded = admin.request("POST", "/admin/reload", &[], b"").await;
    assert_eq!(reloaded.status, 200, "{}", reloaded.text());
    assert_eq!(reloaded.json()["plugins"]["p"]["change"], "unchanged");
    admin.answers("2").await;

    let project = admin.stop().await;
    let restarted = Admined::serve(project).await;
    restarted.answers("2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_through_the_api_reports_a_refused_plugin_as_422() {
    let admin = Admined::start("").await;
    admin.project.write("p.wasm", "(module");
    let reloaded = admin.request("POST", "/admin/reload", &[], b"").await;
    assert_eq!(reloaded.status, 422, "{}", reloaded.text());
    let p = &reloaded.json()["plugins"]["p"];
    assert_eq!(
        (p["change"].as_str(), p["error"]["kind"].as_str()),
        (Some("failed"), Some("invalid_module"))
    );
    admin.answers("1").await;
}

#[test]
fn no_token_means_no_admin_api() {
    let project = Project::new();
    project.module("p", "1").config(&[("p", "")]);
    let config = HostConfig::from_file(project.config_file()).unwrap();
    assert!(Admin::open(&config, None).unwrap().is_none());
    assert!(Admin::open(&config, Some(TOKEN)).unwrap().is_some());
}

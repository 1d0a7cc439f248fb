//! `polyplug serve` as a process: SIGHUP and `--watch` reload it while it
//! serves.

mod support;

use std::time::Duration;

use support::{Server, module};

fn build(answer: &str) -> Vec<u8> {
    module(answer, Duration::ZERO, b"")
}

fn project(answer: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.wasm"), build(answer)).unwrap();
    std::fs::write(
        dir.path().join("polyplug.toml"),
        "[plugins.a]\nwasm = \"a.wasm\"\nwasi = true\n",
    )
    .unwrap();
    dir
}

#[test]
fn sighup_reloads_the_config() {
    let dir = project("1");
    let server = Server::start(&dir.path().join("polyplug.toml"), &[], false);
    assert_eq!(server.call("a", "answer").as_deref(), Some("1"));

    std::fs::write(dir.path().join("a.wasm"), build("2")).unwrap();
    let hangup = std::process::Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hangup.success());

    server.wait_for(|| server.call("a", "answer").as_deref() == Some("2"));
}

#[test]
fn serve_watch_reloads_a_saved_module() {
    let dir = project("1");
    let server = Server::start(&dir.path().join("polyplug.toml"), &["--watch"], false);
    assert_eq!(server.call("a", "answer").as_deref(), Some("1"));

    std::fs::write(dir.path().join("a.wasm"), build("2")).unwrap();

    server.wait_for(|| server.call("a", "answer").as_deref() == Some("2"));
}

#[test]
fn without_watch_a_saved_module_changes_nothing() {
    let dir = project("1");
    let server = Server::start(&dir.path().join("polyplug.toml"), &[], false);

    std::fs::write(dir.path().join("a.wasm"), build("2")).unwrap();
    std::thread::sleep(Duration::from_millis(800));

    assert_eq!(server.call("a", "answer").as_deref(), Some("1"));
}

#[test]
fn without_a_token_there_is_no_admin_api() {
    let dir = project("1");
    let server = Server::start(&dir.path().join("polyplug.toml"), &[], false);
    assert!(support::request(server.admin, "POST", "/admin/reload", &[], b"").is_none());
}

/// `polyplug admin <args>` against `server`, with `token`.
fn admin(server: &Server, token: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_polyplug"))
        .arg("admin")
        .args(args)
        .env("POLYPLUG_ADMIN_URL", format!("http://{}", server.admin))
        .env("POLYPLUG_ADMIN_TOKEN", token)
        .output()
        .unwrap()
}

#[test]
fn polyplug_admin_uploads_activates_and_reports_refusals_with_exit_status_1() {
    let dir = project("1");
    let server = Server::start(&dir.path().join("polyplug.toml"), &[], true);
    let module = dir.path().join("next.wasm");
    std::fs::write(&module, build("2")).unwrap();

    let uploaded = admin(
        &server,
        support::TOKEN,
        &["upload", "a", module.to_str().unwrap()],
    );
    assert!(uploaded.status.success(), "{uploaded:?}");
    let answer: serde_json::Value = serde_json::from_slice(&uploaded.stdout).unwrap();
    let sha256 = answer["sha256"].as_str().unwrap();
    let activated = admin(&server, support::TOKEN, &["activate", "a", sha256]);
    assert!(activated.status.success(), "{activated:?}");
    assert_eq!(server.call("a", "answer").as_deref(), Some("2"));

    let stale = admin(
        &server,
        support::TOKEN,
        &["activate", "a", sha256, "--expect", &"0".repeat(64)],
    );
    assert_eq!(stale.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&stale.stderr).starts_with("error[conflict]: "),
        "{stale:?}"
    );
    let forbidden = admin(&server, "not-the-token-of-this-server", &["versions", "a"]);
    assert_eq!(forbidden.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&forbidden.stderr).starts_with("error[forbidden]: "));

    std::fs::write(
        dir.path().join("polyplug.toml"),
        "[plugins.a]\nwasm = \"missing.wasm\"\n",
    )
    .unwrap();
    let reload = admin(&server, support::TOKEN, &["reload"]);
    assert_eq!(reload.status.code(), Some(1), "{reload:?}");
    assert!(
        String::from_utf8_lossy(&reload.stderr).starts_with("error[invalid_value]: "),
        "{reload:?}"
    );
    assert_eq!(server.call("a", "answer").as_deref(), Some("2"));
}

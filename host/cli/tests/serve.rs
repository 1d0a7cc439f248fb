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

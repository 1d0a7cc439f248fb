//! `polyplug_server::watch`: a saved config or module reloads the host,
//! however the file was written.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use polyplug::{Host, LoadError, Reload};
use polyplug_server::watch::{Watch, watch};

use crate::support::{Project, answer, module_with_output};

/// Every reload a watch made, in order.
type Outcomes = Arc<Mutex<Vec<Result<Reload, LoadError>>>>;

/// Watches `host`, keeping every reload outcome.
fn watching(host: &Host) -> (Watch, Outcomes) {
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let kept = outcomes.clone();
    let reloading = host.clone();
    let file = host.config_file().unwrap();
    let watch = watch(&file, move || kept.lock().unwrap().push(reloading.reload())).unwrap();
    (watch, outcomes)
}

/// Waits up to 10 s for `plugin` to answer `expected`.
async fn until_answers(host: &Host, plugin: &str, expected: &str) {
    let started = Instant::now();
    loop {
        if host.plugins().any(|p| p.name == plugin) && answer(host, plugin).await == expected {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "`{plugin}` never answered `{expected}`"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_saved_by_rename_is_reloaded() {
    let project = Project::new();
    project.module("a", "1").config(&[("a", "")]);
    let host = project.host();
    let (_watch, _) = watching(&host);

    // How editors and build tools save: a temporary file, renamed over.
    project.write("a.wat.tmp", &module_with_output("answer", b"2"));
    std::fs::rename(
        project.dir.path().join("a.wat.tmp"),
        project.dir.path().join("a.wat"),
    )
    .unwrap();

    until_answers(&host, "a", "2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_rewritten_in_place_is_reloaded() {
    let project = Project::new();
    project.module("a", "1").config(&[("a", "")]);
    let host = project.host();
    let (_watch, _) = watching(&host);

    project.module("a", "2");

    until_answers(&host, "a", "2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_added_to_the_config_in_a_new_folder_is_loaded_and_watched() {
    let project = Project::new();
    project.module("a", "1").config(&[("a", "")]);
    let host = project.host();
    let (_watch, _) = watching(&host);

    std::fs::create_dir(project.dir.path().join("more")).unwrap();
    project.write("more/b.wat", &module_with_output("answer", b"2"));
    project.write(
        "polyplug.toml",
        "[plugins.a]\nwasm = \"a.wat\"\n[plugins.b]\nwasm = \"more/b.wat\"\n",
    );
    until_answers(&host, "b", "2").await;

    project.write("more/b.wat", &module_with_output("answer", b"3"));
    until_answers(&host, "b", "3").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_save_is_reported_and_the_next_good_one_is_taken() {
    let project = Project::new();
    project.module("a", "1").config(&[("a", "")]);
    let host = project.host();
    let (_watch, outcomes) = watching(&host);

    project.write("a.wat", "(module");
    let started = Instant::now();
    while host.reloads().get("a").is_none_or(|s| s.failed == 0) {
        assert!(started.elapsed() < Duration::from_secs(10), "no reload");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(answer(&host, "a").await, "1", "the old version serves");
    assert!(
        outcomes
            .lock()
            .unwrap()
            .iter()
            .any(|outcome| outcome.as_ref().is_ok_and(|reload| !reload.is_success()))
    );

    project.module("a", "2");
    until_answers(&host, "a", "2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_beside_the_plugins_do_not_cause_reloads() {
    let project = Project::new();
    project.module("a", "1").config(&[("a", "")]);
    let host = project.host();
    let (_watch, outcomes) = watching(&host);

    project.write("notes.txt", "unrelated");
    tokio::time::sleep(polyplug_server::watch::SETTLE * 4).await;

    assert!(outcomes.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_watch_reloads_no_more() {
    let project = Project::new();
    project.module("a", "1").config(&[("a", "")]);
    let host = project.host();
    let (watch, _) = watching(&host);
    drop(watch);

    project.module("a", "2");
    tokio::time::sleep(polyplug_server::watch::SETTLE * 4).await;

    assert_eq!(answer(&host, "a").await, "1");
}

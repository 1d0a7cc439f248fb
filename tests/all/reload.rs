//! `Host::reload` and `Host::apply`: a config re-read changes only the
//! plugins whose config or bytes changed, stages each (smoke calls
//! included) before it serves, keeps the previous version when staging
//! fails, and drains what it replaces or removes.

use std::time::Duration;

use polyplug::{CallError, Change, Host, LoadError, SmokeCall};

use crate::support::{
    Project, answer, clock_plugin, host_with, module_with_error, module_with_output,
};

fn reread(host: &Host) -> polyplug::Reload {
    host.reload().expect("the config reads")
}

fn loaded_at(host: &Host, plugin: &str) -> std::time::SystemTime {
    host.plugins().find(|p| p.name == plugin).unwrap().loaded_at
}

#[tokio::test]
async fn reloading_an_unchanged_config_restages_nothing() {
    let project = Project::new();
    project.module("a", "1").module("b", "2");
    project.config(&[("a", ""), ("b", "timeout = \"1s\"")]);
    let host = project.host();
    let before = loaded_at(&host, "a");

    let reload = reread(&host);

    assert!(reload.is_success());
    for (name, change) in &reload.plugins {
        assert!(matches!(change, Change::Unchanged), "{name}: {change:?}");
    }
    assert_eq!(loaded_at(&host, "a"), before, "the same generation serves");
    assert_eq!(host.reloads()["a"].succeeded, 0);
}

#[tokio::test]
async fn a_changed_module_is_restaged_and_the_others_are_left_alone() {
    let project = Project::new();
    project.module("a", "1").module("b", "2");
    project.config(&[("a", ""), ("b", "")]);
    let host = project.host();
    let b_loaded = loaded_at(&host, "b");

    project.module("a", "10");
    let reload = reread(&host);

    assert!(
        matches!(reload.plugins["a"], Change::Replaced { .. }),
        "{reload:?}"
    );
    assert!(
        matches!(reload.plugins["b"], Change::Unchanged),
        "{reload:?}"
    );
    assert_eq!(answer(&host, "a").await, "10");
    assert_eq!(loaded_at(&host, "b"), b_loaded);
    assert_eq!(host.reloads()["a"].succeeded, 1);
}

#[tokio::test]
async fn a_changed_limit_grant_or_config_value_restages_the_plugin() {
    for extra in [
        "timeout = \"1s\"",
        "allowed_hosts = [\"example.com\"]",
        "config = { mode = \"fast\" }",
        "wasi = true",
    ] {
        let project = Project::new();
        project.module("a", "1").config(&[("a", "")]);
        let host = project.host();

        project.config(&[("a", extra)]);
        let reload = reread(&host);

        assert!(
            matches!(reload.plugins["a"], Change::Replaced { .. }),
            "`{extra}`: {reload:?}"
        );
    }
}

#[tokio::test]
async fn a_plugin_added_to_the_config_loads_and_a_removed_one_takes_no_calls() {
    let project = Project::new();
    project
        .module("a", "1")
        .module("b", "2")
        .config(&[("a", "")]);
    let host = project.host();

    project.config(&[("b", "")]);
    let reload = reread(&host);

    assert!(matches!(reload.plugins["a"], Change::Removed), "{reload:?}");
    assert!(
        matches!(reload.plugins["b"], Change::Added { .. }),
        "{reload:?}"
    );
    assert_eq!(answer(&host, "b").await, "2");
    let gone = host.call_json("a", "answer", "{}").await;
    assert!(
        matches!(gone, Err(CallError::UnknownPlugin { .. })),
        "{gone:?}"
    );
}

#[tokio::test]
async fn a_version_that_does_not_load_is_reported_and_the_previous_one_serves() {
    let project = Project::new();
    project.module("a", "1").module("b", "2");
    project.config(&[("a", ""), ("b", "")]);
    let host = project.host();

    project.write("a.wat", "(module (func $broken");
    project.module("b", "20");
    let reload = reread(&host);

    let errors: Vec<_> = reload.errors().collect();
    assert_eq!(errors.len(), 1, "{reload:?}");
    assert!(
        matches!(errors[0], ("a", LoadError::InvalidModule { .. })),
        "{reload:?}"
    );
    assert_eq!(answer(&host, "a").await, "1", "the previous version serves");
    assert_eq!(answer(&host, "b").await, "20", "b's change went through");
    let status = &host.plugins().find(|p| p.name == "a").unwrap().reloads;
    assert_eq!((status.succeeded, status.failed), (0, 1));
    assert_eq!(status.last_error.as_ref().unwrap().kind, "invalid_module");

    project.module("a", "100");
    reread(&host);
    assert_eq!(answer(&host, "a").await, "100");
    let status = &host.reloads()["a"];
    assert!(
        status.last_error.is_none(),
        "a later success clears the error"
    );
}

#[tokio::test]
async fn a_plugin_whose_first_version_fails_is_reported_though_not_loaded() {
    let project = Project::new();
    project.module("a", "1").config(&[("a", "")]);
    let host = project.host();

    project
        .write("b.wat", "not wasm")
        .config(&[("a", ""), ("b", "")]);
    let reload = reread(&host);

    assert!(
        matches!(reload.plugins["b"], Change::Failed(_)),
        "{reload:?}"
    );
    assert!(host.plugins().all(|p| p.name != "b"));
    assert_eq!(host.reloads()["b"].failed, 1);
}

#[tokio::test]
async fn a_config_that_does_not_read_changes_nothing() {
    let project = Project::new();
    project.module("a", "1").config(&[("a", "")]);
    let host = project.host();

    project
        .module("a", "2")
        .write("polyplug.toml", "[plugins.a\n");
    let err = host.reload().unwrap_err();

    assert!(matches!(err, LoadError::ConfigSyntax { .. }), "{err}");
    assert_eq!(answer(&host, "a").await, "1");
}

#[tokio::test]
async fn a_host_built_in_code_has_no_file_to_reload() {
    let host = host_with(
        "a",
        crate::support::wat_plugin(&module_with_output("answer", b"1")),
    );
    assert!(matches!(host.reload(), Err(LoadError::NoConfigFile)));
}

#[tokio::test]
async fn a_passing_smoke_call_lets_the_version_serve() {
    let project = Project::new();
    project.module("a", "1").config(&[("a", "")]);
    let host = project.host();

    project.module("a", "{\"ok\":true}");
    project.config(&[(
        "a",
        "smoke = [{ function = \"answer\", input = { name = \"Ada\" }, expect = { ok = true } }]",
    )]);
    let reload = reread(&host);

    assert!(reload.is_success(), "{reload:?}");
    assert_eq!(answer(&host, "a").await, "{\"ok\":true}");
}

#[tokio::test]
async fn a_smoke_call_answering_otherwise_than_expected_refuses_the_version() {
    let project = Project::new();
    let smoke = "smoke = [{ function = \"answer\", input = {}, expect = 1 }]";
    project.module("a", "1").config(&[("a", smoke)]);
    let host = project.host();

    project.module("a", "2");
    let reload = reread(&host);

    let err = reload.errors().next().expect("refused").1;
    assert!(
        matches!(err, LoadError::SmokeMismatch { index: 0, .. }),
        "{err}"
    );
    assert_eq!(answer(&host, "a").await, "1");
}

#[tokio::test]
async fn a_failing_smoke_call_refuses_the_version() {
    let project = Project::new();
    let smoke = "smoke = [{ function = \"answer\", input = {} }]";
    project.module("a", "1").config(&[("a", smoke)]);
    let host = project.host();

    let error = br#"{"code":"broken","message":"this version is broken"}"#;
    project.write("a.wat", &module_with_error("answer", error));
    let reload = reread(&host);

    let err = reload.errors().next().expect("refused").1;
    match err {
        LoadError::SmokeFailed { source, .. } => {
            assert!(
                matches!(**source, CallError::Plugin { ref code, .. } if code == "broken"),
                "{source}"
            );
        }
        other => panic!("expected SmokeFailed, got {other}"),
    }
    assert_eq!(answer(&host, "a").await, "1");
}

#[tokio::test]
async fn a_smoke_call_of_a_missing_function_fails_the_first_load_too() {
    let project = Project::new();
    let smoke = "smoke = [{ function = \"greet\", input = {} }]";
    project.module("a", "1").config(&[("a", smoke)]);
    let err = Host::from_config_file(project.config_file())
        .err()
        .expect("refused");
    assert!(
        matches!(err, LoadError::SmokeFailed { ref source, .. } if matches!(**source, CallError::UnknownFunction { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn smoke_calls_set_in_code_run_too() {
    let mut plugin = crate::support::wat_plugin(&module_with_output("answer", b"1"));
    let host = host_with("a", plugin.clone());
    plugin.smoke = vec![SmokeCall::new(
        "answer",
        &serde_json::json!({}),
        Some(serde_json::json!(2)),
    )];
    let err = host.replace("a", plugin).unwrap_err();
    assert!(matches!(err, LoadError::SmokeMismatch { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_on_a_replaced_generation_are_counted_as_draining_until_they_end() {
    let mut v1 = clock_plugin(Duration::from_millis(400));
    v1.limits.timeout = Duration::from_secs(5);
    let host = host_with("p", v1.clone());
    let in_flight = tokio::spawn({
        let host = host.clone();
        async move { host.call_json("p", "wait", "{}").await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;

    let replacing = host.clone();
    tokio::task::spawn_blocking(move || replacing.replace("p", v1))
        .await
        .unwrap()
        .unwrap();
    let draining = |host: &Host| host.plugins().next().unwrap().calls_draining;
    assert_eq!(draining(&host), 1);
    assert_eq!(host.metrics()[0].calls_draining, 1);

    assert_eq!(in_flight.await.unwrap().unwrap(), b"0");
    assert_eq!(draining(&host), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_running_on_a_removed_plugin_finishes() {
    let mut plugin = clock_plugin(Duration::from_millis(300));
    plugin.limits.timeout = Duration::from_secs(5);
    let host = host_with("p", plugin);
    let in_flight = tokio::spawn({
        let host = host.clone();
        async move { host.call_json("p", "wait", "{}").await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;

    assert!(host.remove("p"));

    assert!(matches!(
        host.call_json("p", "quick", "{}").await,
        Err(CallError::UnknownPlugin { .. })
    ));
    assert_eq!(in_flight.await.unwrap().unwrap(), b"0");
}

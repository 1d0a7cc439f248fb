use std::fs;

use super::*;

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    (dir, store)
}

fn sha(module: &[u8]) -> Sha256 {
    Sha256::of(module)
}

/// Every file under `dir`, relative to it.
fn files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn put_stores_the_module_under_its_sha256_and_records_the_version() {
    let (_dir, store) = open();
    let stored = store.put("greet", b"v1", None, Some("1.0.0")).unwrap();
    assert!(stored.new);
    assert_eq!(stored.entry.sha256, sha(b"v1"));
    assert_eq!(stored.entry.version.as_deref(), Some("1.0.0"));
    assert_eq!(stored.entry.size, 2);
    assert_eq!(fs::read(store.module_path(&sha(b"v1"))).unwrap(), b"v1");

    let record = store.record("greet").unwrap();
    assert_eq!(record.versions, vec![stored.entry]);
    assert_eq!(record.active, None);
    assert!(record.history.is_empty());
}

#[test]
fn the_same_bytes_uploaded_twice_change_nothing_and_answer_the_first_entry() {
    let (_dir, store) = open();
    let first = store.put("greet", b"v1", None, Some("1.0.0")).unwrap();
    let before = store.record("greet").unwrap();
    let again = store.put("greet", b"v1", None, Some("9.9.9")).unwrap();
    assert!(!again.new);
    assert_eq!(again.entry, first.entry);
    assert_eq!(store.record("greet").unwrap(), before);
}

#[test]
fn plugins_uploading_the_same_bytes_share_one_module_file() {
    let (_dir, store) = open();
    assert!(store.put("a", b"same", None, None).unwrap().new);
    assert!(store.put("b", b"same", None, None).unwrap().new);
    assert_eq!(store.record("b").unwrap().versions[0].sha256, sha(b"same"));
    let modules: Vec<_> = files(store.dir())
        .into_iter()
        .filter(|f| f.ends_with(".wasm"))
        .collect();
    assert_eq!(modules.len(), 1);
}

#[test]
fn a_later_signature_replaces_the_stored_one_and_no_signature_keeps_it() {
    let (_dir, store) = open();
    let sha256 = sha(b"v1");
    store.put("greet", b"v1", None, None).unwrap();
    assert_eq!(store.read_signature(&sha256).unwrap(), None);
    store.put("greet", b"v1", Some("first"), None).unwrap();
    assert_eq!(
        store.read_signature(&sha256).unwrap().as_deref(),
        Some("first")
    );
    store.put("greet", b"v1", Some("second"), None).unwrap();
    assert_eq!(
        store.read_signature(&sha256).unwrap().as_deref(),
        Some("second")
    );
    store.put("greet", b"v1", None, None).unwrap();
    assert_eq!(
        store.read_signature(&sha256).unwrap().as_deref(),
        Some("second")
    );
    assert_eq!(
        fs::read_to_string(store.signature_path(&sha256)).unwrap(),
        "second"
    );
}

#[test]
fn a_plugin_never_uploaded_has_an_empty_record() {
    let (_dir, store) = open();
    let record = store.record("nothing-here").unwrap();
    assert_eq!(record.plugin, "nothing-here");
    assert!(record.versions.is_empty());
    assert_eq!(record.active, None);
    assert_eq!(record.previous(), None);
}

#[test]
fn activate_makes_a_version_active_and_remembers_the_one_before() {
    let (_dir, store) = open();
    store.put("greet", b"v1", None, None).unwrap();
    store.put("greet", b"v2", None, None).unwrap();
    let record = store.activate("greet", &sha(b"v1"), None).unwrap();
    assert_eq!(record.active, Some(sha(b"v1")));
    assert!(record.history.is_empty());
    let record = store.activate("greet", &sha(b"v2"), None).unwrap();
    assert_eq!(record.active, Some(sha(b"v2")));
    assert_eq!(record.previous(), Some(&sha(b"v1")));
    assert_eq!(record.active_entry().unwrap().size, 2);
    assert_eq!(store.record("greet").unwrap(), record);
}

#[test]
fn activating_the_active_version_changes_nothing() {
    let (_dir, store) = open();
    store.put("greet", b"v1", None, None).unwrap();
    let once = store.activate("greet", &sha(b"v1"), None).unwrap();
    let twice = store.activate("greet", &sha(b"v1"), None).unwrap();
    assert_eq!(once, twice);
    assert!(twice.history.is_empty());
}

#[test]
fn activate_refuses_a_version_not_uploaded_for_that_plugin() {
    let (_dir, store) = open();
    store.put("other", b"theirs", None, None).unwrap();
    let err = store.activate("greet", &sha(b"theirs"), None).unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownVersion { plugin, sha256 } if plugin == "greet" && *sha256 == sha(b"theirs")),
        "{err}"
    );
    assert_eq!(store.record("greet").unwrap().active, None);
}

#[test]
fn activate_with_a_stale_expected_version_conflicts_and_changes_nothing() {
    let (_dir, store) = open();
    for module in [b"v1", b"v2", b"v3"] {
        store.put("greet", module, None, None).unwrap();
    }
    store.activate("greet", &sha(b"v1"), None).unwrap();
    store
        .activate("greet", &sha(b"v2"), Some(&sha(b"v1")))
        .unwrap();
    let before = store.record("greet").unwrap();

    let err = store
        .activate("greet", &sha(b"v3"), Some(&sha(b"v1")))
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict { expected, current, .. } if *expected == sha(b"v1") && *current == Some(sha(b"v2"))),
        "{err}"
    );
    assert_eq!(store.record("greet").unwrap(), before);
}

#[test]
fn expecting_a_version_when_none_is_active_conflicts() {
    let (_dir, store) = open();
    store.put("greet", b"v1", None, None).unwrap();
    let err = store
        .activate("greet", &sha(b"v1"), Some(&sha(b"v1")))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { current: None, .. }),
        "{err}"
    );
}

#[test]
fn rollback_returns_to_the_versions_active_before_in_reverse_order() {
    let (_dir, store) = open();
    for module in [b"v1", b"v2", b"v3"] {
        store.put("greet", module, None, None).unwrap();
        store.activate("greet", &sha(module), None).unwrap();
    }
    let record = store.rollback("greet", Some(&sha(b"v3"))).unwrap();
    assert_eq!(record.active, Some(sha(b"v2")));
    let record = store.rollback("greet", None).unwrap();
    assert_eq!(record.active, Some(sha(b"v1")));
    assert!(record.history.is_empty());
    let err = store.rollback("greet", None).unwrap_err();
    assert!(
        matches!(&err, StoreError::NoPrevious { plugin } if plugin == "greet"),
        "{err}"
    );
    assert_eq!(store.record("greet").unwrap().active, Some(sha(b"v1")));
}

#[test]
fn rollback_of_a_plugin_never_activated_has_no_previous_version() {
    let (_dir, store) = open();
    store.put("greet", b"v1", None, None).unwrap();
    let err = store.rollback("greet", None).unwrap_err();
    assert!(matches!(err, StoreError::NoPrevious { .. }), "{err}");
}

#[test]
fn rollback_with_a_stale_expected_version_conflicts_and_changes_nothing() {
    let (_dir, store) = open();
    for module in [b"v1", b"v2"] {
        store.put("greet", module, None, None).unwrap();
        store.activate("greet", &sha(module), None).unwrap();
    }
    let err = store.rollback("greet", Some(&sha(b"v1"))).unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(store.record("greet").unwrap().active, Some(sha(b"v2")));
}

#[test]
fn history_forgets_the_oldest_versions_past_its_limit() {
    let (_dir, store) = open();
    let modules: Vec<Vec<u8>> = (0..HISTORY_LIMIT + 5)
        .map(|i| i.to_string().into_bytes())
        .collect();
    for module in &modules {
        store.put("greet", module, None, None).unwrap();
        store.activate("greet", &sha(module), None).unwrap();
    }
    let record = store.record("greet").unwrap();
    assert_eq!(record.history.len(), HISTORY_LIMIT);
    assert_eq!(record.history[0], sha(&modules[4]));
    assert_eq!(record.previous(), Some(&sha(&modules[HISTORY_LIMIT + 3])));
}

#[test]
fn activate_does_not_read_module_files() {
    let (_dir, store) = open();
    store.put("greet", b"v1", None, None).unwrap();
    fs::remove_file(store.module_path(&sha(b"v1"))).unwrap();
    let record = store.activate("greet", &sha(b"v1"), None).unwrap();
    assert_eq!(record.active, Some(sha(b"v1")));
}

#[test]
fn active_lists_the_active_version_of_every_plugin_that_has_one() {
    let (_dir, store) = open();
    store.put("a", b"a1", None, Some("1")).unwrap();
    store.put("a", b"a2", None, Some("2")).unwrap();
    store.put("b", b"b1", None, None).unwrap();
    store.put("never-activated", b"n1", None, None).unwrap();
    store.activate("a", &sha(b"a2"), None).unwrap();
    store.activate("b", &sha(b"b1"), None).unwrap();

    let active = store.active().unwrap();
    assert_eq!(active.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(active["a"].sha256, sha(b"a2"));
    assert_eq!(active["a"].version.as_deref(), Some("2"));
    assert_eq!(active["b"].sha256, sha(b"b1"));
}

#[test]
fn a_reopened_store_reads_back_what_was_written() {
    let (dir, store) = open();
    store.put("greet", b"v1", Some("sig"), Some("1.0")).unwrap();
    store.put("greet", b"v2", None, None).unwrap();
    store.activate("greet", &sha(b"v1"), None).unwrap();
    let record = store.activate("greet", &sha(b"v2"), None).unwrap();
    drop(store);

    let store = Store::open(dir.path().join("store")).unwrap();
    assert_eq!(store.record("greet").unwrap(), record);
    assert_eq!(
        store.read_signature(&sha(b"v1")).unwrap().as_deref(),
        Some("sig")
    );
    store.verify().unwrap();
}

#[test]
fn a_store_open_in_one_place_cannot_be_opened_again_until_dropped() {
    let (dir, store) = open();
    let err = Store::open(dir.path().join("store")).unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    let clone = store.clone();
    drop(store);
    assert!(Store::open(dir.path().join("store")).is_err());
    drop(clone);
    Store::open(dir.path().join("store")).unwrap();
}

#[test]
fn writes_from_many_threads_lose_no_version() {
    let (_dir, store) = open();
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let store = store.clone();
            scope.spawn(move || {
                for i in 0..5 {
                    let module = format!("{thread}-{i}").into_bytes();
                    store.put("greet", &module, None, None).unwrap();
                    store.activate("greet", &sha(&module), None).unwrap();
                }
            });
        }
    });
    let record = store.record("greet").unwrap();
    assert_eq!(record.versions.len(), 40);
    assert_eq!(record.history.len(), 39);
}

#[test]
fn open_removes_the_temporary_files_a_crash_left_and_nothing_else() {
    let (dir, store) = open();
    store.put("greet", b"v1", None, None).unwrap();
    drop(store);
    let root = dir.path().join("store");
    fs::write(root.join("modules/.tmp-half-a-module"), b"partial").unwrap();
    fs::write(root.join("plugins/.tmp-half-a-record"), b"{\"plu").unwrap();
    let before: Vec<_> = files(&root);

    Store::open(&root).unwrap();
    let after = files(&root);
    assert_eq!(
        after,
        before
            .into_iter()
            .filter(|f| !f.contains(".tmp-"))
            .collect::<Vec<_>>()
    );
}

#[test]
fn open_refuses_a_store_whose_record_names_a_missing_module() {
    let (dir, store) = open();
    store.put("greet", b"v1", None, None).unwrap();
    let path = store.module_path(&sha(b"v1"));
    drop(store);
    fs::remove_file(&path).unwrap();

    let err = Store::open(dir.path().join("store")).unwrap_err();
    assert!(
        matches!(&err, StoreError::MissingModule { plugin, sha256, path: missing } if plugin == "greet" && *sha256 == sha(b"v1") && *missing == path),
        "{err}"
    );
}

#[test]
fn open_refuses_a_module_cut_short() {
    let (dir, store) = open();
    store.put("greet", b"v1-long", None, None).unwrap();
    let path = store.module_path(&sha(b"v1-long"));
    drop(store);
    fs::write(&path, b"v1").unwrap();

    let err = Store::open(dir.path().join("store")).unwrap_err();
    assert!(matches!(err, StoreError::CorruptModule { .. }), "{err}");
}

#[test]
fn verify_finds_a_module_whose_bytes_changed_in_place() {
    let (_dir, store) = open();
    store.put("greet", b"v1", None, None).unwrap();
    let path = store.module_path(&sha(b"v1"));
    fs::write(&path, b"v2").unwrap();

    let err = store.verify().unwrap_err();
    assert!(
        matches!(&err, StoreError::CorruptModule { plugin, path: corrupt, .. } if plugin == "greet" && *corrupt == path),
        "{err}"
    );
}

#[test]
fn uploading_bytes_again_repairs_a_module_file_that_changed() {
    let (_dir, store) = open();
    store.put("greet", b"v1", None, None).unwrap();
    fs::write(store.module_path(&sha(b"v1")), b"v2").unwrap();
    store.put("greet", b"v1", None, None).unwrap();
    store.verify().unwrap();
}

#[test]
fn open_refuses_records_that_do_not_parse_or_contradict_themselves() {
    let v1 = sha(b"v1");
    let v2 = sha(b"v2");
    let cases = [
        ("not json", "{\"plugin\": \"greet\"".to_string()),
        (
            "an unknown field",
            r#"{"plugin": "greet", "versions": [], "active": null, "history": [], "pinned": true}"#
                .to_string(),
        ),
        (
            "another plugin's record",
            r#"{"plugin": "other", "versions": [], "active": null, "history": []}"#.to_string(),
        ),
        (
            "an active version it does not have",
            format!(
                r#"{{"plugin": "greet", "versions": [{{"sha256": "{v1}", "version": null, "size": 2, "uploaded_at": 0}}], "active": "{v2}", "history": []}}"#
            ),
        ),
        (
            "a history version it does not have",
            format!(
                r#"{{"plugin": "greet", "versions": [{{"sha256": "{v1}", "version": null, "size": 2, "uploaded_at": 0}}], "active": "{v1}", "history": ["{v2}"]}}"#
            ),
        ),
        (
            "a version listed twice",
            format!(
                r#"{{"plugin": "greet", "versions": [{{"sha256": "{v1}", "version": null, "size": 2, "uploaded_at": 0}}, {{"sha256": "{v1}", "version": null, "size": 2, "uploaded_at": 0}}], "active": null, "history": []}}"#
            ),
        ),
        (
            "a sha256 that is a path",
            r#"{"plugin": "greet", "versions": [{"sha256": "../../etc/passwd", "version": null, "size": 2, "uploaded_at": 0}], "active": null, "history": []}"#.to_string(),
        ),
    ];
    for (case, json) in cases {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.put("greet", b"v1", None, None).unwrap();
        let record = dir.path().join("plugins/greet.json");
        drop(store);
        fs::write(&record, json).unwrap();

        let err = Store::open(dir.path()).unwrap_err();
        assert!(
            matches!(&err, StoreError::InvalidRecord { path, .. } if *path == record),
            "{case}: {err}"
        );
    }
}

#[test]
fn open_refuses_files_the_store_does_not_write() {
    for stray in [
        "plugins/notes.txt",
        "plugins/Greet.json",
        "modules/abc.wasm",
        "modules/.greet.json.swp",
    ] {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        fs::write(dir.path().join(stray), b"").unwrap();

        let err = Store::open(dir.path()).unwrap_err();
        assert!(
            matches!(&err, StoreError::UnexpectedFile { path } if path.ends_with(stray)),
            "{stray}: {err}"
        );
        assert!(dir.path().join(stray).exists(), "{stray} was removed");
    }
}

#[test]
fn hostile_plugin_names_are_refused_before_they_become_paths() {
    let (dir, store) = open();
    let before = files(dir.path());
    let long = "a".repeat(MAX_PLUGIN_NAME + 1);
    for name in [
        "",
        "..",
        "../x",
        "../../etc/passwd",
        "x/y",
        "/abs",
        "x\\y",
        ".hidden",
        "-leading-dash",
        "Upper",
        "nul\0byte",
        "new\nline",
        "dot.json",
        long.as_str(),
    ] {
        for err in [
            store.put(name, b"v1", None, None).unwrap_err(),
            store.record(name).unwrap_err(),
            store.activate(name, &sha(b"v1"), None).unwrap_err(),
            store.rollback(name, None).unwrap_err(),
        ] {
            assert!(
                matches!(&err, StoreError::InvalidPluginName { name: refused } if refused == name),
                "{name:?}: {err}"
            );
        }
    }
    assert_eq!(files(dir.path()), before);
}

#[test]
fn the_longest_allowed_plugin_name_is_stored() {
    let (_dir, store) = open();
    let name = "a".repeat(MAX_PLUGIN_NAME);
    store.put(&name, b"v1", None, None).unwrap();
    assert_eq!(store.record(&name).unwrap().versions.len(), 1);
}

#[test]
fn hostile_sha256_strings_do_not_parse() {
    let upper = "A".repeat(64);
    let short = "a".repeat(63);
    let long = "a".repeat(65);
    let traversal = format!("../{}", "a".repeat(61));
    for value in [
        "",
        "../../etc/passwd",
        upper.as_str(),
        short.as_str(),
        long.as_str(),
        traversal.as_str(),
        &"g".repeat(64),
        &format!("{}\n", "a".repeat(63)),
    ] {
        let err = value.parse::<Sha256>().unwrap_err();
        assert!(
            matches!(&err, StoreError::InvalidSha256 { value: refused } if refused == value),
            "{value:?}: {err}"
        );
    }
    let valid = sha(b"v1");
    assert_eq!(valid.as_str().parse::<Sha256>().unwrap(), valid);
}

#[test]
fn a_hostile_value_is_shown_escaped_and_cut_in_the_message() {
    let value = format!("\u{1b}[31m{}", "a".repeat(500));
    let message = value.parse::<Sha256>().unwrap_err().to_string();
    assert!(!message.contains('\u{1b}'), "{message}");
    assert!(message.len() < 250, "{message}");
}

#[test]
fn version_strings_that_are_empty_long_or_have_control_characters_are_refused() {
    let (_dir, store) = open();
    let long = "1".repeat(MAX_VERSION + 1);
    for version in ["", "1.0\n", "\u{1b}[2J", long.as_str()] {
        let err = store.put("greet", b"v1", None, Some(version)).unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidVersion { .. }),
            "{version:?}: {err}"
        );
    }
    assert!(store.record("greet").unwrap().versions.is_empty());
}

#[test]
fn a_signature_over_the_limit_is_refused() {
    let (_dir, store) = open();
    let signature = "s".repeat(MAX_SIGNATURE + 1);
    let err = store
        .put("greet", b"v1", Some(&signature), None)
        .unwrap_err();
    assert!(matches!(err, StoreError::SignatureTooLarge { .. }), "{err}");
    assert!(!store.module_path(&sha(b"v1")).exists());
}

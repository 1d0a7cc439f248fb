//! The embedded backend: one `redb` file (pure Rust, ACID, crash-safe).
//!
//! Tables:
//!
//! | table | key | value |
//! |---|---|---|
//! | `entries` | (namespace, key) | (version, value as compact JSON) |
//! | `namespaces` | namespace | (bytes, keys) it holds |
//! | `meta` | `"version"`, `"format"` | the store-wide version counter, the layout's version |
//!
//! Every operation is one transaction; a write commits with
//! `Durability::Immediate` (fsync) before it returns. redb runs one write
//! transaction at a time, so increments and compare-and-swaps are atomic.
//! Blocking: call from a thread that may block.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::{KvCode, KvError, Outcome, Quota, Request, stored_integer};

const ENTRIES: TableDefinition<(&str, &str), (u64, &str)> = TableDefinition::new("entries");
const NAMESPACES: TableDefinition<&str, (u64, u64)> = TableDefinition::new("namespaces");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// The layout this code reads and writes, kept in `meta` under `format`.
const FORMAT: u64 = 1;

pub(crate) struct Embedded {
    db: Database,
    path: PathBuf,
}

/// Stores open in this process, by file: a second host (or a reload) on
/// the same file shares the open database, which redb would refuse to
/// open twice.
fn open_stores() -> &'static Mutex<HashMap<PathBuf, Weak<Embedded>>> {
    static OPEN: std::sync::OnceLock<Mutex<HashMap<PathBuf, Weak<Embedded>>>> =
        std::sync::OnceLock::new();
    OPEN.get_or_init(Mutex::default)
}

fn unavailable(err: impl std::fmt::Display) -> KvError {
    KvError::new(KvCode::Unavailable, format!("the store failed: {err}"))
}

impl Embedded {
    /// Opens the store in `path`, creating the file and its directory when
    /// missing, or shares the one this process has open already.
    pub fn open(path: &Path) -> Result<Arc<Embedded>, String> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        let dir = dir.unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|err| format!("cannot create directory `{}`: {err}", dir.display()))?;
        let file = path
            .file_name()
            .ok_or_else(|| "the path names no file".to_string())?;
        let canonical = dir
            .canonicalize()
            .map_err(|err| format!("cannot resolve `{}`: {err}", dir.display()))?
            .join(file);
        let mut open = open_stores().lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|_, store| store.strong_count() > 0);
        if let Some(store) = open.get(&canonical).and_then(Weak::upgrade) {
            return Ok(store);
        }
        let db = Database::create(&canonical).map_err(|err| match err {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                "the file is open in another process (one polyplug process per embedded store)"
                    .to_string()
            }
            other => other.to_string(),
        })?;
        let store = Arc::new(Embedded {
            db,
            path: canonical.clone(),
        });
        store.prepare().map_err(|err| err.message)?;
        open.insert(canonical, Arc::downgrade(&store));
        Ok(store)
    }

    /// Creates the tables of a new file; refuses a file of another layout.
    fn prepare(&self) -> Result<(), KvError> {
        let txn = self.db.begin_write().map_err(unavailable)?;
        {
            txn.open_table(ENTRIES).map_err(unavailable)?;
            txn.open_table(NAMESPACES).map_err(unavailable)?;
            let mut meta = txn.open_table(META).map_err(unavailable)?;
            let format = meta.get("format").map_err(unavailable)?.map(|v| v.value());
            match format {
                None => {
                    meta.insert("format", FORMAT).map_err(unavailable)?;
                }
                Some(FORMAT) => {}
                Some(other) => {
                    return Err(unavailable(format!(
                        "`{}` has layout {other}; this polyplug reads layout {FORMAT}",
                        self.path.display()
                    )));
                }
            }
        }
        txn.commit().map_err(unavailable)
    }

    /// Runs one operation in `namespace`, in one transaction.
    pub fn run(&self, namespace: &str, request: Request, quota: Quota) -> Result<Outcome, KvError> {
        match request {
            Request::Get { key } => self.get(namespace, &key),
            Request::List {
                prefix,
                cursor,
                limit,
            } => self.list(namespace, &prefix, cursor.as_deref(), limit),
            Request::Set { key, value } => self.write(namespace, &key, quota, |_| {
                Ok(Some((value, Outcome::Written)))
            }),
            Request::Cas {
                key,
                expected,
                value,
            } => self
                .write(namespace, &key, quota, |current| {
                    let version = current.map_or(0, |(version, _)| version);
                    Ok(match version == expected {
                        true => Some((value, |version| Outcome::Swapped {
                            swapped: true,
                            version,
                        })),
                        false => None,
                    })
                })
                .map(|outcome| match outcome {
                    Outcome::Written(version) => Outcome::Swapped {
                        swapped: false,
                        version,
                    },
                    swapped => swapped,
                }),
            Request::Increment { key, by } => {
                let mut counted = 0;
                let outcome = self.write(namespace, &key, quota, |current| {
                    let now = match current {
                        None => 0,
                        Some((_, text)) => stored_integer(text).ok_or_else(|| {
                            KvError::new(
                                KvCode::NotAnInteger,
                                format!(
                                    "the value is `{}`, not an integer within ±(2^53-1)",
                                    shorten(text)
                                ),
                            )
                        })?,
                    };
                    counted = now
                        .checked_add(by)
                        .filter(|n| n.unsigned_abs() <= super::MAX_COUNTER as u64)
                        .ok_or_else(|| {
                            KvError::new(
                                KvCode::Overflow,
                                format!("{now} + {by} is outside ±(2^53-1)"),
                            )
                        })?;
                    Ok(Some((counted.to_string(), Outcome::Written)))
                })?;
                match outcome {
                    Outcome::Written(version) => Ok(Outcome::Counted {
                        value: counted,
                        version,
                    }),
                    other => Ok(other),
                }
            }
            Request::Delete { key } => self.delete(namespace, &key),
        }
    }

    fn get(&self, namespace: &str, key: &str) -> Result<Outcome, KvError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let entries = txn.open_table(ENTRIES).map_err(unavailable)?;
        let found = entries.get((namespace, key)).map_err(unavailable)?;
        Ok(Outcome::Found(found.map(|entry| {
            let (version, value) = entry.value();
            (value.to_string(), version)
        })))
    }

    fn list(
        &self,
        namespace: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Outcome, KvError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let entries = txn.open_table(ENTRIES).map_err(unavailable)?;
        let start = match cursor {
            Some(cursor) if cursor >= prefix => Bound::Excluded((namespace, cursor)),
            _ => Bound::Included((namespace, prefix)),
        };
        let range = entries
            .range::<(&str, &str)>((start, Bound::Unbounded))
            .map_err(unavailable)?;
        let mut items = Vec::new();
        let mut more = false;
        for entry in range {
            let (key, value) = entry.map_err(unavailable)?;
            let (space, key) = key.value();
            if space != namespace || !key.starts_with(prefix) {
                break;
            }
            if items.len() == limit {
                more = true;
                break;
            }
            items.push((key.to_string(), value.value().0));
        }
        let cursor = match more {
            true => items.last().map(|(key, _)| key.clone()),
            false => None,
        };
        Ok(Outcome::Listed { items, cursor })
    }

    /// A write of `key`: `decide` sees its current version and value and
    /// returns the value to write (and how to report the new version), or
    /// `None` to write nothing, which answers `Written(current version)`.
    /// Quotas are checked, the counter bumped, and the transaction
    /// committed before this returns.
    fn write(
        &self,
        namespace: &str,
        key: &str,
        quota: Quota,
        decide: impl FnOnce(
            Option<(u64, &str)>,
        ) -> Result<Option<(String, fn(u64) -> Outcome)>, KvError>,
    ) -> Result<Outcome, KvError> {
        let mut txn = self.db.begin_write().map_err(unavailable)?;
        txn.set_durability(Durability::Immediate)
            .map_err(unavailable)?;
        let outcome = {
            let mut entries = txn.open_table(ENTRIES).map_err(unavailable)?;
            let current = entries.get((namespace, key)).map_err(unavailable)?;
            let current = current.map(|entry| {
                let (version, value) = entry.value();
                (version, value.to_string())
            });
            let decided = decide(current.as_ref().map(|(v, text)| (*v, text.as_str())))?;
            let Some((value, report)) = decided else {
                return Ok(Outcome::Written(current.map_or(0, |(v, _)| v)));
            };
            let mut namespaces = txn.open_table(NAMESPACES).map_err(unavailable)?;
            let (bytes, keys) = namespaces
                .get(namespace)
                .map_err(unavailable)?
                .map_or((0, 0), |usage| usage.value());
            let old = current
                .as_ref()
                .map_or(0, |(_, text)| (key.len() + text.len()) as u64);
            let new_bytes = bytes - old.min(bytes) + (key.len() + value.len()) as u64;
            let new_keys = keys + u64::from(current.is_none());
            if new_keys > quota.keys && new_keys > keys {
                return Err(KvError::full_of_keys(keys));
            }
            if new_bytes > quota.bytes && new_bytes > bytes {
                return Err(KvError::full_of_bytes(bytes, new_bytes, quota.bytes));
            }
            let mut meta = txn.open_table(META).map_err(unavailable)?;
            let version = meta
                .get("version")
                .map_err(unavailable)?
                .map_or(0, |v| v.value())
                + 1;
            meta.insert("version", version).map_err(unavailable)?;
            entries
                .insert((namespace, key), (version, value.as_str()))
                .map_err(unavailable)?;
            namespaces
                .insert(namespace, (new_bytes, new_keys))
                .map_err(unavailable)?;
            report(version)
        };
        txn.commit().map_err(unavailable)?;
        Ok(outcome)
    }

    fn delete(&self, namespace: &str, key: &str) -> Result<Outcome, KvError> {
        let mut txn = self.db.begin_write().map_err(unavailable)?;
        txn.set_durability(Durability::Immediate)
            .map_err(unavailable)?;
        {
            let mut entries = txn.open_table(ENTRIES).map_err(unavailable)?;
            let removed = entries.remove((namespace, key)).map_err(unavailable)?;
            let Some(removed) = removed.map(|entry| entry.value().1.len() as u64) else {
                return Ok(Outcome::Deleted(false));
            };
            let mut namespaces = txn.open_table(NAMESPACES).map_err(unavailable)?;
            let (bytes, keys) = namespaces
                .get(namespace)
                .map_err(unavailable)?
                .map_or((0, 0), |usage| usage.value());
            let freed = key.len() as u64 + removed;
            namespaces
                .insert(
                    namespace,
                    (bytes.saturating_sub(freed), keys.saturating_sub(1)),
                )
                .map_err(unavailable)?;
        }
        txn.commit().map_err(unavailable)?;
        Ok(Outcome::Deleted(true))
    }
}

/// The start of a value, for a message.
pub(crate) fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(name: &str) -> Arc<Embedded> {
        let dir = std::env::temp_dir().join(format!("polyplug-kv-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Embedded::open(&dir.join("kv.redb")).unwrap()
    }

    const ROOMY: Quota = Quota {
        bytes: 1 << 20,
        keys: 100,
    };

    fn set(store: &Embedded, ns: &str, key: &str, value: &str) -> Result<Outcome, KvCode> {
        let request = Request::Set {
            key: key.into(),
            value: value.into(),
        };
        store.run(ns, request, ROOMY).map_err(|e| e.code)
    }

    fn run(store: &Embedded, request: Request) -> Outcome {
        store.run("ns", request, ROOMY).unwrap()
    }

    #[test]
    fn a_value_that_changes_and_changes_back_has_a_new_version() {
        let store = store("aba");
        let Ok(Outcome::Written(first)) = set(&store, "ns", "k", "1") else {
            panic!()
        };
        set(&store, "ns", "k", "2").unwrap();
        let Ok(Outcome::Written(third)) = set(&store, "ns", "k", "1") else {
            panic!()
        };
        assert!(third > first);
        let stale = Request::Cas {
            key: "k".into(),
            expected: first,
            value: "9".into(),
        };
        assert_eq!(
            run(&store, stale),
            Outcome::Swapped {
                swapped: false,
                version: third
            }
        );
        let fresh = Request::Cas {
            key: "k".into(),
            expected: third,
            value: "9".into(),
        };
        assert!(matches!(
            run(&store, fresh),
            Outcome::Swapped { swapped: true, version } if version > third
        ));
    }

    #[test]
    fn listing_pages_through_one_prefix_of_one_namespace() {
        let store = store("list");
        for key in ["a1", "a2", "a3", "b1"] {
            set(&store, "ns", key, "0").unwrap();
        }
        set(&store, "other", "a0", "0").unwrap();
        let page = |cursor: Option<&str>| {
            run(
                &store,
                Request::List {
                    prefix: "a".into(),
                    cursor: cursor.map(String::from),
                    limit: 2,
                },
            )
        };
        let Outcome::Listed { items, cursor } = page(None) else {
            panic!()
        };
        let keys: Vec<_> = items.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!((keys, cursor.as_deref()), (vec!["a1", "a2"], Some("a2")));
        let Outcome::Listed { items, cursor } = page(Some("a2")) else {
            panic!()
        };
        assert_eq!(
            (items.len(), &items[0].0, cursor),
            (1, &"a3".to_string(), None)
        );
    }

    #[test]
    fn quotas_count_keys_and_bytes_and_deletes_free_them() {
        let store = store("quota");
        let tight = Quota { bytes: 10, keys: 2 };
        let write = |key: &str, value: &str| {
            let request = Request::Set {
                key: key.into(),
                value: value.into(),
            };
            store.run("ns", request, tight).map_err(|e| e.code)
        };
        write("a", "1").unwrap();
        write("b", "1").unwrap();
        assert_eq!(write("c", "1"), Err(KvCode::NamespaceFull));
        assert_eq!(write("a", "\"123456789\""), Err(KvCode::NamespaceFull));
        write("a", "12345").unwrap();
        let delete = Request::Delete { key: "a".into() };
        assert_eq!(
            store.run("ns", delete, tight).unwrap(),
            Outcome::Deleted(true)
        );
        write("c", "1").unwrap();
    }

    #[test]
    fn increments_read_integers_only_and_stop_at_the_safe_range() {
        let store = store("incr");
        let incr = |by: i64| {
            let request = Request::Increment {
                key: "n".into(),
                by,
            };
            store.run("ns", request, ROOMY).map_err(|e| e.code)
        };
        assert!(matches!(incr(5), Ok(Outcome::Counted { value: 5, .. })));
        assert!(matches!(incr(-7), Ok(Outcome::Counted { value: -2, .. })));
        let max = super::super::MAX_COUNTER;
        assert!(matches!(incr(max), Ok(Outcome::Counted { value, .. }) if value == max - 2));
        assert_eq!(incr(3), Err(KvCode::Overflow));
        assert!(matches!(incr(2), Ok(Outcome::Counted { value, .. }) if value == max));
        set(&store, "ns", "n", "1.5").unwrap();
        assert_eq!(incr(1), Err(KvCode::NotAnInteger));
    }

    #[test]
    fn one_file_opened_twice_in_a_process_is_one_store() {
        let first = store("twice");
        let again = Embedded::open(&first.path).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
    }
}

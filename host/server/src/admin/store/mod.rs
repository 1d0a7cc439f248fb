//! The admin API's version store: every module uploaded for a plugin,
//! named by its sha256, and per plugin which version is active and which
//! were active before it.
//!
//! ```text
//! <dir>/                       the caller picks it (`.polyplug/store` beside the config by default)
//!   lock                       locked by the `Store` that has the store open
//!   modules/<sha256>.wasm      a module's bytes, named by their sha256
//!   modules/<sha256>.minisig   the signature that came with the latest upload of those bytes
//!   plugins/<plugin>.json      the plugin's Record
//! ```
//!
//! A record, as [`Record`] serializes it (`uploaded_at` in seconds since
//! the Unix epoch; `history` holds the versions active before `active`,
//! most recent last):
//!
//! ```json
//! {
//!   "plugin": "discounts",
//!   "versions": [
//!     {"sha256": "9f86d0…", "version": "1.2.0", "size": 48213, "uploaded_at": 1767225600},
//!     {"sha256": "2c26b4…", "version": null, "size": 48390, "uploaded_at": 1767312000}
//!   ],
//!   "active": "2c26b4…",
//!   "history": ["9f86d0…"]
//! }
//! ```
//!
//! **Crash safety.** Every file is written whole to a temporary file in its
//! folder, synced, and renamed over its name, and the folder is synced
//! (`store/atomic.rs`). [`Store::put`] writes the module, then its
//! signature, then the record, so a record never names a module that is
//! not all there. Killed at any point, the store reads back as it was
//! before the operation or after it; what a crash can leave is a temporary
//! file, which [`Store::open`] removes, and a module no record names yet,
//! which is kept (the next upload of the same bytes finds it).
//!
//! **The store records; the host runs.** To change what runs, the caller
//! first loads the version into the host (`Host::replace` with
//! [`Store::module_path`] and the sha256 pinned; the host hashes a module
//! uploaded as WAT text after compiling it, so pin only binary modules),
//! and only if that worked
//! records it with [`Store::activate`] or [`Store::rollback`], which
//! rewrite one small record and never read a module. At start-up,
//! [`Store::active`] says which version of each plugin to load. The store
//! cannot see the host, so the caller serializes "load, then record" per
//! plugin itself; the compare-and-set (`expected_current`) is for requests
//! that say which version they expect to replace.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{self, File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

mod atomic;
mod error;
mod record;
#[cfg(test)]
mod tests;

pub use error::StoreError;
pub use record::{Entry, HISTORY_LIMIT, MAX_PLUGIN_NAME, MAX_VERSION, Record, Sha256};

use record::{check_plugin_name, valid_version};

/// The largest signature [`Store::put`] takes, in bytes.
pub const MAX_SIGNATURE: usize = 16 * 1024;

const MODULES: &str = "modules";
const PLUGINS: &str = "plugins";
const LOCK: &str = "lock";

/// An open version store: a handle, cheap to clone, that every admin
/// request may share. Writes through it take turns; reads need not, since
/// every file changes by an atomic rename. The store stays locked against
/// other processes until the last clone is dropped.
///
/// Every method does file I/O, and writes wait for the disk to sync: from
/// async code, call them in `spawn_blocking`.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    /// Held across each read-modify-write of a record, so two requests
    /// cannot interleave theirs.
    writes: Mutex<()>,
    /// Holds the lock on `<dir>/lock` while the store is open.
    _lock: File,
}

/// What [`Store::put`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The plugin's entry for the module. When the plugin already had
    /// these bytes, it is the entry of that earlier upload, version string
    /// and time included.
    pub entry: Entry,
    /// Whether the plugin gained a version; `false` when it already had
    /// these bytes.
    pub new: bool,
}

impl Store {
    /// Opens the store in `dir`, creating it if it does not exist, and locks
    /// it against other processes.
    ///
    /// Removes the temporary files a crash left, then checks the rest
    /// without changing it: every file in `modules/` and `plugins/` must be
    /// one the store writes, every record must parse and agree with itself,
    /// and every module a record names must exist with the size it
    /// records. Reading each module to hash it is left to [`Store::verify`]
    /// (and to the host, which checks the pinned sha256 as it loads one),
    /// so opening costs no more as versions pile up.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Store, StoreError> {
        let dir = dir.into();
        for folder in [MODULES, PLUGINS] {
            let path = dir.join(folder);
            fs::create_dir_all(&path).map_err(StoreError::io("create", path))?;
        }
        atomic::sync_dir(&dir)?;
        let lock_path = dir.join(LOCK);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(StoreError::io("open", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(StoreError::Locked { dir }),
            Err(TryLockError::Error(err)) => return Err(StoreError::io("lock", lock_path)(err)),
        }
        let store = Store {
            inner: Arc::new(Inner {
                dir,
                writes: Mutex::new(()),
                _lock: lock,
            }),
        };
        store.remove_temporary_files()?;
        store.check(false)?;
        Ok(store)
    }

    /// The folder the store lives in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Stores `module` (and `signature`, the text of its `.minisig`, when
    /// given) and records it as a version of `plugin`.
    ///
    /// Idempotent: bytes the plugin already has change nothing and come
    /// back as the entry of their first upload, with `new: false`. Bytes
    /// stored for another plugin are shared, not written again. A
    /// signature replaces the one stored for the same bytes, so the file
    /// holds the signature of the latest upload (re-signed after a key
    /// rotation, it is the one the new key verifies); an upload without one
    /// keeps the stored one. The store does not check signatures.
    pub fn put(
        &self,
        plugin: &str,
        module: &[u8],
        signature: Option<&str>,
        version: Option<&str>,
    ) -> Result<Stored, StoreError> {
        check_plugin_name(plugin)?;
        if let Some(version) = version
            && !valid_version(version)
        {
            return Err(StoreError::InvalidVersion {
                plugin: plugin.to_string(),
                version: version.to_string(),
            });
        }
        if let Some(signature) = signature
            && signature.len() > MAX_SIGNATURE
        {
            return Err(StoreError::SignatureTooLarge {
                plugin: plugin.to_string(),
                size: signature.len(),
            });
        }
        let sha256 = Sha256::of(module);
        let _writes = self.writes();
        let mut record = self.read_record(plugin)?;
        self.write_module(&sha256, module)?;
        if let Some(signature) = signature {
            self.write_signature(&sha256, signature)?;
        }
        if let Some(entry) = record.entry(&sha256) {
            return Ok(Stored {
                entry: entry.clone(),
                new: false,
            });
        }
        let entry = Entry {
            sha256,
            version: version.map(str::to_string),
            size: module.len() as u64,
            uploaded_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs()),
        };
        record.versions.push(entry.clone());
        self.write_record(&record)?;
        Ok(Stored { entry, new: true })
    }

    /// Where the module with this sha256 is (or would be) stored.
    pub fn module_path(&self, sha256: &Sha256) -> PathBuf {
        self.folder(MODULES).join(format!("{sha256}.wasm"))
    }

    /// Where the signature of the module with this sha256 is (or would be)
    /// stored.
    pub fn signature_path(&self, sha256: &Sha256) -> PathBuf {
        self.folder(MODULES).join(format!("{sha256}.minisig"))
    }

    /// The signature stored with the module, if one came with an upload.
    pub fn read_signature(&self, sha256: &Sha256) -> Result<Option<String>, StoreError> {
        let path = self.signature_path(sha256);
        match fs::read_to_string(&path) {
            Ok(signature) => Ok(Some(signature)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(StoreError::io("read", path)(err)),
        }
    }

    /// The record of `plugin`: empty (no versions, nothing active) if
    /// nothing was ever uploaded for it.
    pub fn record(&self, plugin: &str) -> Result<Record, StoreError> {
        check_plugin_name(plugin)?;
        self.read_record(plugin)
    }

    /// Makes `sha256`, a version uploaded for `plugin`, its active one; the
    /// version active until now goes on top of the history. Activating the
    /// active version changes nothing.
    ///
    /// With `expected_current`, this is a compare-and-set: unless that is
    /// the active version, it fails with [`StoreError::Conflict`] and
    /// changes nothing. Rewrites the record only; module files are not
    /// read.
    pub fn activate(
        &self,
        plugin: &str,
        sha256: &Sha256,
        expected_current: Option<&Sha256>,
    ) -> Result<Record, StoreError> {
        check_plugin_name(plugin)?;
        let _writes = self.writes();
        let mut record = self.read_record(plugin)?;
        if record.entry(sha256).is_none() {
            return Err(StoreError::UnknownVersion {
                plugin: plugin.to_string(),
                sha256: sha256.clone(),
            });
        }
        check_expected(&record, expected_current)?;
        if record.active.as_ref() == Some(sha256) {
            return Ok(record);
        }
        if let Some(current) = record.active.replace(sha256.clone()) {
            record.history.push(current);
            let forgotten = record.history.len().saturating_sub(HISTORY_LIMIT);
            record.history.drain(..forgotten);
        }
        self.write_record(&record)?;
        Ok(record)
    }

    /// Makes the version that was active before the current one active
    /// again, taking it off the history ([`Record::previous`] says which);
    /// [`StoreError::NoPrevious`] when there is none. `expected_current` is
    /// a compare-and-set as in [`Store::activate`].
    pub fn rollback(
        &self,
        plugin: &str,
        expected_current: Option<&Sha256>,
    ) -> Result<Record, StoreError> {
        check_plugin_name(plugin)?;
        let _writes = self.writes();
        let mut record = self.read_record(plugin)?;
        check_expected(&record, expected_current)?;
        let Some(previous) = record.history.pop() else {
            return Err(StoreError::NoPrevious {
                plugin: plugin.to_string(),
            });
        };
        record.active = Some(previous);
        self.write_record(&record)?;
        Ok(record)
    }

    /// The active version of every plugin that has one, by plugin name:
    /// what to load at start-up.
    pub fn active(&self) -> Result<BTreeMap<String, Entry>, StoreError> {
        Ok(self
            .records()?
            .into_iter()
            .filter_map(|record| {
                let entry = record.active_entry()?.clone();
                Some((record.plugin, entry))
            })
            .collect())
    }

    /// Checks what [`Store::open`] checks and, in addition, reads every
    /// module a record names and hashes it:
    /// [`StoreError::CorruptModule`] for the first whose bytes are not
    /// what its name says.
    pub fn verify(&self) -> Result<(), StoreError> {
        self.check(true)
    }

    fn writes(&self) -> MutexGuard<'_, ()> {
        // A write that panicked left every file whole (each changes by a
        // rename), so there is nothing to distrust.
        self.inner
            .writes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn folder(&self, folder: &str) -> PathBuf {
        self.inner.dir.join(folder)
    }

    fn record_path(&self, plugin: &str) -> PathBuf {
        self.folder(PLUGINS).join(format!("{plugin}.json"))
    }

    /// Reads the record of a plugin whose name was checked.
    fn read_record(&self, plugin: &str) -> Result<Record, StoreError> {
        let path = self.record_path(plugin);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Record::empty(plugin)),
            Err(err) => return Err(StoreError::io("read", path)(err)),
        };
        let record: Record =
            serde_json::from_slice(&bytes).map_err(|err| StoreError::InvalidRecord {
                path: path.clone(),
                reason: err.to_string(),
            })?;
        match record.problem(plugin) {
            Some(reason) => Err(StoreError::InvalidRecord { path, reason }),
            None => Ok(record),
        }
    }

    fn write_record(&self, record: &Record) -> Result<(), StoreError> {
        let mut json = serde_json::to_vec_pretty(record).expect("a record serializes");
        json.push(b'\n');
        atomic::write(
            &self.folder(PLUGINS),
            &format!("{}.json", record.plugin),
            &json,
        )
    }

    /// Every record in `plugins/`.
    fn records(&self) -> Result<Vec<Record>, StoreError> {
        let folder = self.folder(PLUGINS);
        let mut records = Vec::new();
        for name in file_names(&folder)? {
            let plugin = name
                .strip_suffix(".json")
                .filter(|plugin| check_plugin_name(plugin).is_ok())
                .ok_or_else(|| StoreError::UnexpectedFile {
                    path: folder.join(&name),
                })?;
            records.push(self.read_record(plugin)?);
        }
        Ok(records)
    }

    fn write_module(&self, sha256: &Sha256, module: &[u8]) -> Result<(), StoreError> {
        let path = self.module_path(sha256);
        match fs::read(&path) {
            Ok(stored) if stored == module => return Ok(()),
            Ok(_) => tracing::warn!(
                path = %path.display(),
                "the stored module does not hold the bytes its name says; rewriting it from the upload"
            ),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(StoreError::io("read", path)(err)),
        }
        atomic::write(&self.folder(MODULES), &format!("{sha256}.wasm"), module)
    }

    fn write_signature(&self, sha256: &Sha256, signature: &str) -> Result<(), StoreError> {
        if self.read_signature(sha256)?.as_deref() == Some(signature) {
            return Ok(());
        }
        atomic::write(
            &self.folder(MODULES),
            &format!("{sha256}.minisig"),
            signature.as_bytes(),
        )
    }

    /// Removes what a write killed half-way left: temporary files.
    fn remove_temporary_files(&self) -> Result<(), StoreError> {
        for folder in [MODULES, PLUGINS] {
            let folder = self.folder(folder);
            let mut removed = false;
            for name in file_names(&folder)? {
                if name.starts_with(atomic::TEMP_PREFIX) {
                    let path = folder.join(name);
                    fs::remove_file(&path).map_err(StoreError::io("remove", path))?;
                    removed = true;
                }
            }
            if removed {
                atomic::sync_dir(&folder)?;
            }
        }
        Ok(())
    }

    /// The checks of [`Store::open`], and with `hash` those of
    /// [`Store::verify`].
    fn check(&self, hash: bool) -> Result<(), StoreError> {
        let modules = self.folder(MODULES);
        for name in file_names(&modules)? {
            let sha256 = name
                .strip_suffix(".wasm")
                .or_else(|| name.strip_suffix(".minisig"))
                .and_then(|sha256| sha256.parse::<Sha256>().ok());
            if sha256.is_none() {
                return Err(StoreError::UnexpectedFile {
                    path: modules.join(name),
                });
            }
        }
        let mut hashed = BTreeSet::new();
        for record in self.records()? {
            for entry in &record.versions {
                self.check_module(&record.plugin, entry)?;
                if hash && hashed.insert(entry.sha256.clone()) {
                    self.hash_module(&record.plugin, &entry.sha256)?;
                }
            }
        }
        Ok(())
    }

    fn check_module(&self, plugin: &str, entry: &Entry) -> Result<(), StoreError> {
        let path = self.module_path(&entry.sha256);
        let size = match fs::metadata(&path) {
            Ok(metadata) => metadata.len(),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::MissingModule {
                    plugin: plugin.to_string(),
                    sha256: entry.sha256.clone(),
                    path,
                });
            }
            Err(err) => return Err(StoreError::io("read", path)(err)),
        };
        if size != entry.size {
            return Err(StoreError::CorruptModule {
                plugin: plugin.to_string(),
                path,
                reason: format!("it is {size} bytes, but was uploaded as {}", entry.size),
            });
        }
        Ok(())
    }

    fn hash_module(&self, plugin: &str, sha256: &Sha256) -> Result<(), StoreError> {
        let path = self.module_path(sha256);
        let bytes = fs::read(&path).map_err(StoreError::io("read", &path))?;
        let actual = Sha256::of(&bytes);
        if actual != *sha256 {
            return Err(StoreError::CorruptModule {
                plugin: plugin.to_string(),
                path,
                reason: format!("its bytes hash to {actual}"),
            });
        }
        Ok(())
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

/// Fails with [`StoreError::Conflict`] unless `expected` is absent or is
/// the active version.
fn check_expected(record: &Record, expected: Option<&Sha256>) -> Result<(), StoreError> {
    match expected {
        Some(expected) if record.active.as_ref() != Some(expected) => Err(StoreError::Conflict {
            plugin: record.plugin.clone(),
            expected: expected.clone(),
            current: record.active.clone(),
        }),
        _ => Ok(()),
    }
}

/// The names in `folder`, sorted; a name that is not UTF-8 is a file the
/// store did not write.
fn file_names(folder: &Path) -> Result<Vec<String>, StoreError> {
    let mut names = Vec::new();
    let entries = fs::read_dir(folder).map_err(StoreError::io("list", folder))?;
    for entry in entries {
        let entry = entry.map_err(StoreError::io("list", folder))?;
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| StoreError::UnexpectedFile { path: entry.path() })?;
        names.push(name);
    }
    names.sort();
    Ok(names)
}

//! `polyplug serve --watch`: reload when the config file or a plugin's
//! module (or its `.minisig`) changes on disk.
//!
//! File events come from `notify`, debounced by `notify-debouncer-full`,
//! which pairs the two halves of a rename: an editor or build tool that
//! writes a temporary file and renames it over the module is one change,
//! seen once the writing has settled. Directories are watched rather than
//! files, since a file replaced by a rename is a new file that a watch on
//! the old one would never see. Events reach a thread of the watcher's
//! own, which runs the reload there ([`Host::reload`] blocks while it
//! compiles), then watches whatever directories the new config names.
//!
//! What a change does is the caller's: `polyplug serve` reloads its host
//! with the admin store's active versions laid over the file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use notify_debouncer_full::notify::{self, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use polyplug::{HostConfig, WasmSource};

/// How long the files must stay quiet before a change counts.
pub const SETTLE: Duration = Duration::from_millis(200);

/// Watches while it lives; dropping it stops the watching (the thread
/// holds the debouncer only weakly, and ends when its events do).
pub struct Watch {
    _debouncer: Arc<Mutex<FileDebouncer>>,
}

type FileDebouncer = Debouncer<notify::RecommendedWatcher, RecommendedCache>;

/// Why watching could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    #[error("cannot watch `{}`: {source}", path.display())]
    Watch {
        path: PathBuf,
        source: notify::Error,
    },
}

/// Calls `changed` (on the watcher's thread, where it may block) whenever
/// the config `file`, a module it names or a module's `.minisig` changes.
pub fn watch(file: &Path, mut changed: impl FnMut() + Send + 'static) -> Result<Watch, WatchError> {
    let file = std::path::absolute(file).unwrap_or(file.to_path_buf());
    let (events, received) = mpsc::channel::<DebounceEventResult>();
    let mut debouncer =
        new_debouncer(SETTLE, None, events).map_err(|source| WatchError::Watch {
            path: file.clone(),
            source,
        })?;
    let mut watched = Watched::default();
    watched.update(&file, &mut debouncer)?;
    let debouncer = Arc::new(Mutex::new(debouncer));
    let weak = Arc::downgrade(&debouncer);
    std::thread::Builder::new()
        .name("polyplug-watch".into())
        .spawn(move || {
            for batch in received {
                let touched = match batch {
                    Ok(events) => events
                        .iter()
                        .flat_map(|event| event.paths.iter())
                        .any(|path| watched.files.contains(path)),
                    Err(errors) => {
                        for error in errors {
                            tracing::warn!(%error, "file watching");
                        }
                        false
                    }
                };
                if !touched {
                    continue;
                }
                changed();
                // The config may name modules in new folders now.
                let Some(debouncer) = weak.upgrade() else {
                    break;
                };
                let mut debouncer = debouncer.lock().unwrap_or_else(|p| p.into_inner());
                if let Err(error) = watched.update(&file, &mut debouncer) {
                    tracing::warn!(%error, "file watching");
                }
            }
        })
        .expect("spawning the watch thread");
    Ok(Watch {
        _debouncer: debouncer,
    })
}

/// The files whose change means a reload, and the directories watched to
/// see them.
#[derive(Default)]
struct Watched {
    files: BTreeSet<PathBuf>,
    dirs: BTreeSet<PathBuf>,
}

impl Watched {
    /// Reads the config at `file` for the modules it names (keeping the
    /// last known set when it does not read) and watches their folders.
    fn update(&mut self, file: &Path, debouncer: &mut FileDebouncer) -> Result<(), WatchError> {
        self.files.insert(file.to_path_buf());
        if let Ok(config) = HostConfig::from_file(file) {
            for plugin in config.plugins.values() {
                if let WasmSource::File(module) = &plugin.wasm {
                    let module = std::path::absolute(module).unwrap_or(module.clone());
                    let mut signature = module.clone().into_os_string();
                    signature.push(".minisig");
                    self.files.insert(signature.into());
                    self.files.insert(module);
                }
            }
        }
        for dir in self.files.iter().filter_map(|f| f.parent()) {
            if self.dirs.insert(dir.to_path_buf()) {
                debouncer
                    .watch(dir, RecursiveMode::NonRecursive)
                    .map_err(|source| WatchError::Watch {
                        path: dir.to_path_buf(),
                        source,
                    })?;
            }
        }
        Ok(())
    }
}

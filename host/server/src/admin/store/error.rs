//! Every way the store can fail, as types.

use std::io;
use std::path::PathBuf;

use super::record::{MAX_PLUGIN_NAME, MAX_VERSION};
use super::{MAX_SIGNATURE, Sha256};

/// Why a store operation failed. The comment on each variant says whose
/// fault it is: the request's (a bad name, an unknown version, a lost
/// race), or the store's (its files are not what it wrote).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file system refused; `action` says what the store was doing.
    #[error("store: cannot {action} `{}`: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    /// Another process has the store open ([`Store::open`](super::Store::open)
    /// holds a lock on `<dir>/lock` for as long as the `Store` lives).
    #[error("store `{}` is open in another process (it holds `lock`)", dir.display())]
    Locked { dir: PathBuf },

    /// The request named a plugin the store will not make a file name of.
    #[error(
        "`{}` is not a plugin name: plugin names are lowercase letters, digits, `_` and `-`, starting with a letter or digit, at most {MAX_PLUGIN_NAME} characters",
        shown(name)
    )]
    InvalidPluginName { name: String },

    /// The request named a version by something that is not a sha256.
    #[error(
        "`{}` is not a sha256: expected 64 lowercase hexadecimal digits",
        shown(value)
    )]
    InvalidSha256 { value: String },

    /// The upload's version string is empty, too long or has control
    /// characters.
    #[error(
        "plugin `{plugin}`: version `{}` is not a version string: 1 to {MAX_VERSION} characters, no control characters",
        shown(version)
    )]
    InvalidVersion { plugin: String, version: String },

    /// The upload's signature is larger than a minisign signature can be.
    #[error(
        "plugin `{plugin}`: the signature is {size} bytes, over the {MAX_SIGNATURE} a minisign signature fits in"
    )]
    SignatureTooLarge { plugin: String, size: usize },

    /// The request named a version that was never uploaded for the plugin.
    #[error("plugin `{plugin}` has no version {sha256} in the store")]
    UnknownVersion { plugin: String, sha256: Sha256 },

    /// Compare-and-set failed: the active version is not the one the
    /// request expected (someone else activated or rolled back first).
    #[error(
        "plugin `{plugin}`: expected {expected} to be the active version, but {} is",
        current.as_ref().map_or("none".to_string(), |c| c.to_string())
    )]
    Conflict {
        plugin: String,
        expected: Sha256,
        current: Option<Sha256>,
    },

    /// Rollback with no earlier active version to return to.
    #[error("plugin `{plugin}` has no previously active version to roll back to")]
    NoPrevious { plugin: String },

    /// The store's files: a record that does not parse or contradicts
    /// itself.
    #[error("store record `{}` is invalid: {reason}", path.display())]
    InvalidRecord { path: PathBuf, reason: String },

    /// The store's files: a record names a version whose module file is
    /// gone.
    #[error("plugin `{plugin}`: the store has version {sha256}, but its module `{}` is missing", path.display())]
    MissingModule {
        plugin: String,
        sha256: Sha256,
        path: PathBuf,
    },

    /// The store's files: a module file is not the bytes its name says.
    #[error("plugin `{plugin}`: module `{}` is corrupt: {reason}", path.display())]
    CorruptModule {
        plugin: String,
        path: PathBuf,
        reason: String,
    },

    /// The store's files: something the store did not write sits in one of
    /// its folders. It is left for a person to look at, not removed.
    #[error("store: `{}` is not a file the store writes; move it out of the store", path.display())]
    UnexpectedFile { path: PathBuf },
}

impl StoreError {
    pub(super) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    }
}

/// `value` as an error message can show it: control characters escaped,
/// cut to 80 characters, since it may come from a hostile request.
pub(super) fn shown(value: &str) -> String {
    let mut escaped = String::new();
    for c in value.chars().take(80) {
        if c.is_control() {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    if value.chars().count() > 80 {
        escaped.push('…');
    }
    escaped
}

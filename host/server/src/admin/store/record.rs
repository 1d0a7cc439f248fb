//! What the store keeps per plugin ([`Record`], [`Entry`]) and the two
//! names that become file names ([`Sha256`], plugin names), checked before
//! they touch a path.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::StoreError;
use super::error::shown;

/// Previously active versions a record remembers for rollback; activating
/// past this many forgets the oldest.
pub const HISTORY_LIMIT: usize = 100;

/// The longest plugin name the store takes: with `.json` and a temporary
/// file's prefix and suffix it stays well under a file name's 255 bytes.
pub const MAX_PLUGIN_NAME: usize = 128;

/// The longest version string the store records.
pub const MAX_VERSION: usize = 128;

/// A module's sha256 as 64 lowercase hexadecimal digits: its name in the
/// store. Parsing one ([`str::parse`]) is the only way to get one from
/// text, so a value that is not a digest never reaches a path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256(String);

impl Sha256 {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Sha256 {
        let digest = sha2::Sha256::digest(bytes);
        Sha256(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Sha256 {
    type Err = StoreError;

    fn from_str(value: &str) -> Result<Sha256, StoreError> {
        if value.len() == 64
            && value
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            Ok(Sha256(value.to_string()))
        } else {
            Err(StoreError::InvalidSha256 {
                value: value.to_string(),
            })
        }
    }
}

impl TryFrom<String> for Sha256 {
    type Error = StoreError;

    fn try_from(value: String) -> Result<Sha256, StoreError> {
        value.parse()
    }
}

impl From<Sha256> for String {
    fn from(sha256: Sha256) -> String {
        sha256.0
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Sha256 {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

/// One version of a plugin that was uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub sha256: Sha256,
    /// The version string the upload gave, if it gave one.
    pub version: Option<String>,
    /// The module's size in bytes.
    pub size: u64,
    /// When it was first uploaded for this plugin, in seconds since the
    /// Unix epoch.
    pub uploaded_at: u64,
}

/// Everything the store knows about one plugin: `plugins/<name>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub plugin: String,
    /// Every version uploaded for the plugin, oldest first.
    pub versions: Vec<Entry>,
    /// The version the host should run, if one was ever activated.
    pub active: Option<Sha256>,
    /// The versions that were active before `active`, most recent last:
    /// [`Store::rollback`](super::Store::rollback) pops it.
    pub history: Vec<Sha256>,
}

impl Record {
    /// The record of a plugin the store has nothing for.
    pub(super) fn empty(plugin: &str) -> Record {
        Record {
            plugin: plugin.to_string(),
            versions: Vec::new(),
            active: None,
            history: Vec::new(),
        }
    }

    /// The entry of version `sha256`, if the plugin has it.
    pub fn entry(&self, sha256: &Sha256) -> Option<&Entry> {
        self.versions.iter().find(|entry| entry.sha256 == *sha256)
    }

    /// The entry of the active version.
    pub fn active_entry(&self) -> Option<&Entry> {
        self.active.as_ref().and_then(|active| self.entry(active))
    }

    /// The version a rollback would make active again.
    pub fn previous(&self) -> Option<&Sha256> {
        self.history.last()
    }

    /// Why a record read from disk cannot be right, if it cannot: a record
    /// the store wrote always passes.
    pub(super) fn problem(&self, plugin: &str) -> Option<String> {
        if self.plugin != plugin {
            return Some(format!("it is the record of `{}`", shown(&self.plugin)));
        }
        for (i, entry) in self.versions.iter().enumerate() {
            if self.versions[..i].iter().any(|e| e.sha256 == entry.sha256) {
                return Some(format!("version {} is listed twice", entry.sha256));
            }
            if let Some(version) = &entry.version
                && !valid_version(version)
            {
                return Some(format!("version string `{}` is invalid", shown(version)));
            }
        }
        let unknown = self
            .active
            .iter()
            .chain(&self.history)
            .find(|sha256| self.entry(sha256).is_none());
        if let Some(sha256) = unknown {
            return Some(format!(
                "it activates {sha256}, which is not one of its versions"
            ));
        }
        None
    }
}

/// Refuses a plugin name that is not one the config accepts (lowercase
/// letters, digits, `_` and `-`, starting with a letter or digit) or is
/// longer than [`MAX_PLUGIN_NAME`]: no `/`, `.` or `\`, so it stays one
/// file name inside `plugins/`.
pub(super) fn check_plugin_name(name: &str) -> Result<(), StoreError> {
    let valid = name.len() <= MAX_PLUGIN_NAME
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(StoreError::InvalidPluginName {
            name: name.to_string(),
        })
    }
}

/// A version string is 1 to [`MAX_VERSION`] printable characters.
pub(super) fn valid_version(version: &str) -> bool {
    !version.is_empty()
        && version.chars().count() <= MAX_VERSION
        && !version.chars().any(char::is_control)
}

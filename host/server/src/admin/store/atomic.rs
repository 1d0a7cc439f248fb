//! Writes a crash cannot leave half done.

use std::fs::File;
use std::io::Write as _;
use std::path::Path;

use super::StoreError;

/// How the names of the temporary files [`write`] makes begin: no plugin
/// name or sha256 begins with a `.`, so they cannot be mistaken for
/// anything the store keeps.
pub(super) const TEMP_PREFIX: &str = ".tmp-";

/// Makes `dir/name` hold `bytes`, so that after a crash at any point it
/// holds either what it held before (or is absent) or all of `bytes`:
/// the bytes go to a temporary file in `dir`, which is synced, renamed
/// over `name`, and then `dir` is synced so that the rename survives a
/// power cut too. A crash can leave the temporary file behind, for
/// [`Store::open`](super::Store::open) to remove.
pub(super) fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .map_err(StoreError::io("create a temporary file in", dir))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(StoreError::io("write", temp.path()))?;
    let target = dir.join(name);
    temp.persist(&target)
        .map_err(|err| StoreError::io("rename a temporary file to", &target)(err.error))?;
    sync_dir(dir)
}

/// Makes the entries of `dir` (files created, renamed or removed in it)
/// durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(StoreError::io("sync", dir))
}

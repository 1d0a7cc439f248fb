//! `--update`: what a plugin gives now becomes what its case expects.

use std::fs;
use std::path::Path;

use polyplug::CallError;

use super::cases::{ERROR, Expected, Folder, OUTPUT};

/// Writes `got` as case `name`'s expected result: the output in
/// `<name>.output.json`, or in `<name>.error.json` a plugin error's code or
/// the kind of a failure the host reported, removing the other file.
/// Returns the new expectation and a line per file changed.
pub fn write(
    folder: &Folder,
    name: &str,
    got: &Result<Vec<u8>, CallError>,
) -> Result<(Expected, Vec<String>), String> {
    let (keep, drop, mut bytes, expected) = match got {
        Ok(output) => (
            OUTPUT,
            ERROR,
            output.clone(),
            Expected::Output(output.clone()),
        ),
        Err(CallError::Plugin { code, .. }) => (
            ERROR,
            OUTPUT,
            format!("{{\"code\": {}}}", serde_json::Value::from(code.as_str())).into_bytes(),
            Expected::Error(code.clone()),
        ),
        Err(err) => (
            ERROR,
            OUTPUT,
            format!("{{\"kind\": {}}}", serde_json::Value::from(err.kind())).into_bytes(),
            Expected::Failure(err.kind().to_string()),
        ),
    };
    bytes.push(b'\n');
    let keep = folder.file(name, keep);
    let drop = folder.file(name, drop);
    let mut changed = Vec::new();
    let result = (|| {
        if fs::read(&keep).ok().as_deref() != Some(&bytes[..]) {
            fs::write(&keep, &bytes).map_err(|err| cannot("write", &keep, &err))?;
            changed.push(format!("wrote {}", keep.display()));
        }
        if drop.is_file() {
            fs::remove_file(&drop).map_err(|err| cannot("remove", &drop, &err))?;
            changed.push(format!("removed {}", drop.display()));
        }
        Ok(())
    })();
    result.map(|()| (expected, changed))
}

fn cannot(what: &str, path: &Path, err: &std::io::Error) -> String {
    format!("cannot {what} `{}`: {err}", path.display())
}

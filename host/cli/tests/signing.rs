//! `polyplug keygen` and `polyplug sign`, then `polyplug check` with a
//! config that trusts the new key. Needs no guests: the module is WAT text.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A folder of its own for one test, removed when the test ends.
struct Folder(PathBuf);

impl Folder {
    fn new(test: &str) -> Self {
        let path = std::env::temp_dir().join(format!("polyplug-cli-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `polyplug` in `dir` with no config file there unless the test
/// writes one.
fn polyplug(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polyplug"))
        .current_dir(dir)
        .env_remove("POLYPLUG_CONFIG")
        .args(args)
        .output()
        .expect("polyplug runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const MODULE: &str = r#"(module (func (export "answer") (result i32) (i32.const 0)))"#;

#[test]
fn keygen_then_sign_makes_a_module_that_loads_as_its_signed_version() {
    let folder = Folder::new("keygen-sign-check");
    let dir = folder.0.as_path();
    let out = polyplug(dir, &["keygen", "--dir", "keys", "--name", "release"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("trusted_keys"),
        "{}",
        text(&out.stdout)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("keys/release.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the secret key is its owner's only");
    }

    std::fs::write(dir.join("greet.wat"), MODULE).unwrap();
    let out = polyplug(
        dir,
        &[
            "sign",
            "greet.wat",
            "--key",
            "keys/release.key",
            "--plugin",
            "greet",
            "--version",
            "1.4.0",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let signature = std::fs::read_to_string(dir.join("greet.wat.minisig")).unwrap();
    assert!(
        signature.contains("trusted comment: polyplug plugin=greet version=1.4.0 sha256="),
        "{signature}"
    );

    std::fs::write(
        dir.join("polyplug.toml"),
        "[signatures]\ntrusted_keys = [\"keys/release.pub\"]\nrequired = true\n\n\
         [plugins.greet]\nwasm = \"greet.wat\"\n",
    )
    .unwrap();
    let out = polyplug(dir, &["check"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout)
        .lines()
        .find(|line| line.starts_with("greet "))
        .map(str::to_string);
    assert!(
        line.as_deref().is_some_and(|line| line.contains(" 1.4.0 ")),
        "{}",
        text(&out.stdout)
    );

    // Signed for another plugin name, the same module does not load.
    std::fs::write(
        dir.join("polyplug.toml"),
        "[signatures]\ntrusted_keys = [\"keys/release.pub\"]\n\n[plugins.other]\nwasm = \"greet.wat\"\n",
    )
    .unwrap();
    let out = polyplug(dir, &["check"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).starts_with(
            "error: plugin `other`: module `greet.wat`: the signature was made for plugin `greet`"
        ),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn keygen_refuses_to_overwrite_a_key_unless_forced() {
    let folder = Folder::new("keygen-overwrite");
    let dir = folder.0.as_path();
    assert!(polyplug(dir, &["keygen"]).status.success());
    let key = std::fs::read(dir.join("polyplug.key")).unwrap();

    let out = polyplug(dir, &["keygen"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: `./polyplug.key` exists already"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(dir.join("polyplug.key")).unwrap(), key);

    assert!(polyplug(dir, &["keygen", "--force"]).status.success());
    assert_ne!(std::fs::read(dir.join("polyplug.key")).unwrap(), key);
}

#[test]
fn sign_refuses_a_version_that_is_not_semver() {
    let folder = Folder::new("sign-bad-version");
    let dir = folder.0.as_path();
    std::fs::write(dir.join("greet.wat"), MODULE).unwrap();
    let out = polyplug(
        dir,
        &[
            "sign",
            "greet.wat",
            "--key",
            "none.key",
            "--plugin",
            "greet",
            "--version",
            "1.4",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(!dir.join("greet.wat.minisig").exists());
}

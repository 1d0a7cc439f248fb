//! Signed plugins: a plugin that trusts keys loads a module only with a
//! minisign signature by one of them whose trusted comment names the
//! plugin, a version and the module's sha256; every refusal is a
//! `LoadError::Signature` carrying the `SignatureError` that says why.

use std::path::PathBuf;
use std::sync::Arc;

use polyplug::signature::{self, Version};
use polyplug::{Host, HostConfig, LoadError, PluginConfig, SignatureError, TrustedKey, WasmSource};

use crate::support::{Signer, module_with_output};

/// A folder of its own for one test, removed when the test ends.
struct Folder(PathBuf);

impl Folder {
    /// A folder holding `p.wat`, a module whose `answer` writes `1`.
    fn new(test: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("polyplug-signatures-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        let folder = Self(path);
        folder.write("p.wat", module().as_bytes());
        folder
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.path(name), bytes).unwrap();
    }

    /// Loads `toml` as the folder's `polyplug.toml`.
    fn load(&self, toml: &str) -> Result<Host, LoadError> {
        Host::new(HostConfig::from_text(self.path("polyplug.toml"), toml)?)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn module() -> String {
    module_with_output("answer", b"1")
}

/// A config with plugin `name` from `p.wat`, trusting `keys` and requiring
/// signatures.
fn requiring(name: &str, keys: &[&str]) -> String {
    format!(
        "[signatures]\ntrusted_keys = {keys:?}\nrequired = true\n\n[plugins.{name}]\nwasm = \"p.wat\"\n"
    )
}

/// The `SignatureError` inside a load's error.
fn refusal(result: Result<Host, LoadError>) -> SignatureError {
    match result {
        Err(LoadError::Signature { source, .. }) => *source,
        Err(other) => panic!("not a signature error: {other}"),
        Ok(_) => panic!("loaded"),
    }
}

#[tokio::test]
async fn a_signed_module_loads_and_shows_its_version_and_key() {
    let folder = Folder::new("signed");
    let signer = Signer::new();
    folder.write(
        "p.wat.minisig",
        signer.sign("p", "1.4.0", module().as_bytes()).as_bytes(),
    );

    let host = folder.load(&requiring("p", &[&signer.key()])).unwrap();

    let info = host.plugins().next().unwrap();
    assert_eq!(info.version, Some(Version::new(1, 4, 0)));
    assert_eq!(info.signed_by, Some(signer.id()));
    assert_eq!(host.call_json("p", "answer", "{}").await.unwrap(), b"1");
}

#[test]
fn a_required_signature_that_is_missing_is_refused() {
    let folder = Folder::new("missing");
    let err = refusal(folder.load(&requiring("p", &[&Signer::new().key()])));
    assert!(
        matches!(&err, SignatureError::Missing { looked_for } if looked_for.contains("p.wat.minisig")),
        "{err}"
    );
}

#[test]
fn a_plugin_that_lists_its_own_keys_requires_a_signature() {
    let folder = Folder::new("own-keys");
    let toml = format!(
        "[plugins.p]\nwasm = \"p.wat\"\ntrusted_keys = [{:?}]\n",
        Signer::new().key()
    );
    let err = refusal(folder.load(&toml));
    assert!(matches!(err, SignatureError::Missing { .. }), "{err}");
}

#[test]
fn a_signature_for_another_plugin_is_refused() {
    let folder = Folder::new("replayed");
    let signer = Signer::new();
    folder.write(
        "p.wat.minisig",
        signer.sign("a", "1.0.0", module().as_bytes()).as_bytes(),
    );
    let err = refusal(folder.load(&requiring("b", &[&signer.key()])));
    assert!(
        matches!(&err, SignatureError::WrongPlugin { signed_for } if signed_for == "a"),
        "{err}"
    );
}

#[test]
fn a_module_changed_after_signing_is_refused() {
    let folder = Folder::new("changed");
    let signer = Signer::new();
    folder.write(
        "p.wat.minisig",
        signer.sign("p", "1.0.0", module().as_bytes()).as_bytes(),
    );
    folder.write("p.wat", module_with_output("answer", b"2").as_bytes());
    let err = refusal(folder.load(&requiring("p", &[&signer.key()])));
    assert!(
        matches!(&err, SignatureError::BadSignature { key_id } if *key_id == signer.id()),
        "{err}"
    );
}

#[test]
fn a_signature_whose_trusted_comment_was_edited_is_refused() {
    let folder = Folder::new("edited");
    let signer = Signer::new();
    let signature = signer.sign("p", "1.0.0", module().as_bytes());
    folder.write(
        "p.wat.minisig",
        signature
            .replace("version=1.0.0", "version=2.0.0")
            .as_bytes(),
    );
    let err = refusal(folder.load(&requiring("p", &[&signer.key()])));
    assert!(matches!(err, SignatureError::BadSignature { .. }), "{err}");
}

#[test]
fn a_signature_by_a_key_the_plugin_does_not_trust_is_refused() {
    let folder = Folder::new("stranger");
    let (trusted, stranger) = (Signer::new(), Signer::new());
    folder.write(
        "p.wat.minisig",
        stranger.sign("p", "1.0.0", module().as_bytes()).as_bytes(),
    );
    let err = refusal(folder.load(&requiring("p", &[&trusted.key()])));
    assert!(
        matches!(&err, SignatureError::UnknownKey { key_id } if *key_id == stranger.id()),
        "{err}"
    );
}

#[test]
fn a_signature_naming_another_module_is_refused() {
    let folder = Folder::new("other-module");
    let signer = Signer::new();
    let other = signature::module_sha256(b"(module)").unwrap();
    folder.write(
        "p.wat.minisig",
        signer
            .sign_with_sha("p", "1.0.0", module().as_bytes(), &other)
            .as_bytes(),
    );
    let err = refusal(folder.load(&requiring("p", &[&signer.key()])));
    assert!(
        matches!(&err, SignatureError::WrongModule { signed_sha256 } if *signed_sha256 == other),
        "{err}"
    );
}

#[test]
fn a_signature_file_that_is_not_a_signature_is_refused() {
    let folder = Folder::new("malformed");
    folder.write("p.wat.minisig", b"untrusted comment: nothing\nhere\n");
    let err = refusal(folder.load(&requiring("p", &[&Signer::new().key()])));
    assert!(matches!(err, SignatureError::Malformed { .. }), "{err}");
}

#[test]
fn keys_from_a_pub_file_are_trusted() {
    let folder = Folder::new("pub-file");
    let signer = Signer::new();
    std::fs::create_dir_all(folder.path("keys")).unwrap();
    folder.write("keys/release.pub", signer.pub_file().as_bytes());
    folder.write(
        "p.wat.minisig",
        signer
            .sign("p", "3.0.0-rc.1", module().as_bytes())
            .as_bytes(),
    );
    let host = folder.load(&requiring("p", &["keys/release.pub"])).unwrap();
    assert_eq!(
        host.plugins().next().unwrap().version,
        Some(Version::parse("3.0.0-rc.1").unwrap())
    );
}

#[test]
fn both_keys_of_a_rotation_are_accepted() {
    let (old, new) = (Signer::new(), Signer::new());
    let toml = format!(
        "[plugins.p]\nwasm = \"p.wat\"\ntrusted_keys = [{:?}, {:?}]\n",
        old.key(),
        new.key()
    );
    for (name, signer) in [("old", &old), ("new", &new)] {
        let folder = Folder::new(&format!("rotation-{name}"));
        folder.write(
            "p.wat.minisig",
            signer.sign("p", "1.0.0", module().as_bytes()).as_bytes(),
        );
        let host = folder.load(&toml).unwrap();
        assert_eq!(host.plugins().next().unwrap().signed_by, Some(signer.id()));
    }
}

#[test]
fn global_and_plugin_keys_are_both_trusted() {
    let (global, own) = (Signer::new(), Signer::new());
    let folder = Folder::new("global-and-own");
    let toml = format!(
        "[signatures]\ntrusted_keys = [{:?}]\n\n[plugins.p]\nwasm = \"p.wat\"\ntrusted_keys = [{:?}]\n",
        global.key(),
        own.key()
    );
    let config = HostConfig::from_text(folder.path("polyplug.toml"), &toml).unwrap();
    let keys: Vec<&str> = config.plugins["p"]
        .trusted_keys
        .iter()
        .map(TrustedKey::text)
        .collect();
    assert_eq!(keys, [global.key(), own.key()]);
    assert!(config.plugins["p"].signature_required);
}

#[test]
fn an_unsigned_module_loads_when_signatures_are_not_required() {
    let folder = Folder::new("optional");
    let toml = format!(
        "[signatures]\ntrusted_keys = [{:?}]\n\n[plugins.p]\nwasm = \"p.wat\"\n",
        Signer::new().key()
    );
    let host = folder.load(&toml).unwrap();
    let info = host.plugins().next().unwrap();
    assert_eq!((info.version, info.signed_by), (None, None));
}

#[test]
fn a_bad_signature_fails_even_when_signatures_are_not_required() {
    let folder = Folder::new("optional-but-bad");
    let (trusted, stranger) = (Signer::new(), Signer::new());
    folder.write(
        "p.wat.minisig",
        stranger.sign("p", "1.0.0", module().as_bytes()).as_bytes(),
    );
    let toml = format!(
        "[signatures]\ntrusted_keys = [{:?}]\n\n[plugins.p]\nwasm = \"p.wat\"\n",
        trusted.key()
    );
    let err = refusal(folder.load(&toml));
    assert!(matches!(err, SignatureError::UnknownKey { .. }), "{err}");
}

#[test]
fn a_signature_is_ignored_by_a_plugin_that_trusts_no_key() {
    let folder = Folder::new("no-keys");
    folder.write("p.wat.minisig", b"not even a signature");
    let host = folder.load("[plugins.p]\nwasm = \"p.wat\"\n").unwrap();
    assert_eq!(host.plugins().next().unwrap().version, None);
}

/// A plugin built in code from module bytes, as an upload would be.
fn uploaded(signature: Option<String>, keys: &[&Signer]) -> PluginConfig {
    let mut plugin = PluginConfig::new(WasmSource::Bytes(Arc::from(module().as_bytes())));
    plugin.trusted_keys = keys
        .iter()
        .map(|signer| TrustedKey::parse(&signer.key()).unwrap())
        .collect();
    plugin.signature_required = true;
    plugin.signature = signature.map(Arc::from);
    plugin
}

#[test]
fn a_signature_given_with_module_bytes_is_verified() {
    let signer = Signer::new();
    let signature = signer.sign("p", "2.1.0", module().as_bytes());
    let host = Host::new(HostConfig::new([(
        "p".to_string(),
        uploaded(Some(signature), &[&signer]),
    )]))
    .unwrap();
    assert_eq!(
        host.plugins().next().unwrap().version,
        Some(Version::new(2, 1, 0))
    );

    let err = Host::new(HostConfig::new([(
        "p".to_string(),
        uploaded(None, &[&signer]),
    )]));
    assert!(
        matches!(refusal(err), SignatureError::Missing { .. }),
        "module bytes without their signature"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_with_a_bad_signature_leaves_the_current_version_serving() {
    let (trusted, stranger) = (Signer::new(), Signer::new());
    let signed = trusted.sign("p", "1.0.0", module().as_bytes());
    let host = Host::new(HostConfig::new([(
        "p".to_string(),
        uploaded(Some(signed), &[&trusted]),
    )]))
    .unwrap();

    let forged = stranger.sign("p", "2.0.0", module().as_bytes());
    let err = host
        .replace("p", uploaded(Some(forged), &[&trusted]))
        .unwrap_err();
    assert!(
        matches!(&err, LoadError::Signature { source, .. }
            if matches!(**source, SignatureError::UnknownKey { .. })),
        "{err}"
    );
    assert_eq!(
        host.plugins().next().unwrap().version,
        Some(Version::new(1, 0, 0))
    );
    assert_eq!(host.call_json("p", "answer", "{}").await.unwrap(), b"1");
}

#[test]
fn a_trusted_key_that_is_neither_key_nor_file_names_its_config_key() {
    let folder = Folder::new("bad-entry");
    let toml = format!(
        "[plugins.p]\nwasm = \"p.wat\"\ntrusted_keys = [{:?}, \"keys/nope.pub\"]\n",
        Signer::new().key()
    );
    let err = folder.load(&toml).err().expect("the config is refused");
    assert!(
        matches!(&err, LoadError::InvalidValue { key, value, .. }
            if key == "plugins.p.trusted_keys[1]" && value == "keys/nope.pub"),
        "{err}"
    );
}

/// A host serving `p`, signed at `version`.
fn serving(signer: &Signer, version: &str) -> Host {
    let signature = signer.sign("p", version, module().as_bytes());
    Host::new(HostConfig::new([(
        "p".to_string(),
        uploaded(Some(signature), &[signer]),
    )]))
    .unwrap()
}

fn version_of(host: &Host) -> Option<Version> {
    host.plugins().next().unwrap().version
}

#[test]
fn replacing_with_a_lower_signed_version_is_refused_as_a_downgrade() {
    let signer = Signer::new();
    let host = serving(&signer, "1.2.0");
    let older = signer.sign("p", "1.1.9", module().as_bytes());

    let err = host.replace("p", uploaded(Some(older), &[&signer]));

    match err {
        Err(LoadError::Signature { source, .. }) => assert!(
            matches!(&*source, SignatureError::Downgrade { live, offered }
                if *live == Version::new(1, 2, 0) && *offered == Version::new(1, 1, 9)),
            "{source}"
        ),
        other => panic!("expected a downgrade refusal, got {other:?}"),
    }
    assert_eq!(version_of(&host), Some(Version::new(1, 2, 0)));
}

#[test]
fn a_rollback_may_go_to_a_lower_version_and_the_same_or_higher_needs_none() {
    let signer = Signer::new();
    let host = serving(&signer, "1.2.0");
    let sign = |version| Some(signer.sign("p", version, module().as_bytes()));

    host.replace("p", uploaded(sign("1.2.0"), &[&signer]))
        .unwrap();
    host.replace("p", uploaded(sign("1.3.0"), &[&signer]))
        .unwrap();
    host.replace_allowing_downgrade("p", uploaded(sign("1.0.0"), &[&signer]))
        .unwrap();

    assert_eq!(version_of(&host), Some(Version::new(1, 0, 0)));
}

#[test]
fn a_reload_naming_a_lower_signed_version_keeps_the_live_one() {
    let folder = Folder::new("downgrade-reload");
    let signer = Signer::new();
    let sign = |version: &str| {
        folder.write(
            "p.wat.minisig",
            signer.sign("p", version, module().as_bytes()).as_bytes(),
        )
    };
    let toml = requiring("p", &[&signer.key()]);
    folder.write("polyplug.toml", toml.as_bytes());
    sign("2.0.0");
    let host = Host::from_config_file(folder.path("polyplug.toml")).unwrap();

    sign("1.0.0");
    let reload = host.reload().unwrap();

    let (_, err) = reload.errors().next().expect("refused");
    assert_eq!(err.kind(), "downgrade", "{err}");
    assert_eq!(version_of(&host), Some(Version::new(2, 0, 0)));
}

//! Signed plugins: minisign signatures that bind a module to a plugin name
//! and a version, checked against the public keys a plugin trusts.
//!
//! A signature is the text of a [minisign] detached signature (a
//! `.minisig` file), made with an Ed25519 key. Loading looks for it beside a
//! module file, as `<module file>.minisig` (`plugin.wasm.minisig`, the name
//! minisign gives it), or takes it from [`PluginConfig::signature`] for a
//! module given as bytes.
//!
//! Its **trusted comment**, which the signature's second (global) signature
//! covers, must read exactly
//!
//! ```text
//! polyplug plugin=<name> version=<semver> sha256=<64 lowercase hex>
//! ```
//!
//! with single spaces between the fields, in that order; anything else is
//! [`SignatureError::Malformed`]. `version` is a semantic version and
//! `sha256` is the module's as the loader computes it ([`module_sha256`]:
//! of the binary module, after WAT text is translated). The comment binds
//! the signature to one plugin, so a module signed for plugin `a` does not
//! load as plugin `b`, and gives the module the version that
//! [`PluginInfo::version`](crate::PluginInfo::version) shows.
//!
//! [`verify`] finds the key by the signature's key id among the trusted
//! keys, checks the signature over the module's bytes as stored and the
//! global signature over the trusted comment (both with [`minisign_verify`]),
//! then the plugin name and the sha256 in the comment.
//!
//! Accepted: minisign's prehashed signatures (algorithm `ED`, the default of
//! minisign and rsign and the only kind `polyplug sign` makes). Legacy
//! signatures (`Ed`, over the raw bytes) are refused as malformed.
//!
//! [minisign]: https://jedisct1.github.io/minisign/

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use minisign_verify::{PublicKey, Signature};

pub use semver::Version;

use crate::config::{PluginConfig, WasmSource};

/// Why a signature was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// A signature is required but none came with the module.
    #[error(
        "this plugin requires a signature, but none was found (looked for {looked_for}): \
         sign the module with `polyplug sign`"
    )]
    Missing {
        /// Where the loader looked, for people: a path in backticks, or
        /// where a module given as bytes carries its signature.
        looked_for: String,
    },

    /// The signature file exists but could not be read.
    #[error("cannot read signature `{path}`: {source}")]
    Unreadable {
        path: String,
        source: std::io::Error,
    },

    #[error("malformed signature: {reason}")]
    Malformed { reason: String },

    #[error(
        "signed by key `{key_id}`, which this plugin does not trust: \
         add that public key to its `trusted_keys`"
    )]
    UnknownKey { key_id: String },

    #[error(
        "the signature by key `{key_id}` does not verify: the module or the signature's \
         trusted comment changed after signing; sign the module again"
    )]
    BadSignature { key_id: String },

    #[error(
        "the signature was made for plugin `{signed_for}`, not this one: \
         sign the module with this plugin's name"
    )]
    WrongPlugin { signed_for: String },

    #[error(
        "the signature's trusted comment names a module with sha256 {signed_sha256}, \
         not this one: sign the module as it is deployed"
    )]
    WrongModule { signed_sha256: String },

    /// Refused by the host when a plugin would go back to an older version
    /// than the one live.
    #[error(
        "version {offered} is lower than the live version {live}, and downgrades are refused: \
         sign the module with a version above {live}"
    )]
    Downgrade { live: Version, offered: Version },
}

impl SignatureError {
    /// A short stable name for the variant, for logs, metrics and APIs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Missing { .. } => "signature_missing",
            Self::Unreadable { .. } => "signature_unreadable",
            Self::Malformed { .. } => "signature_malformed",
            Self::UnknownKey { .. } => "signature_unknown_key",
            Self::BadSignature { .. } => "signature_invalid",
            Self::WrongPlugin { .. } => "signature_wrong_plugin",
            Self::WrongModule { .. } => "signature_wrong_module",
            Self::Downgrade { .. } => "downgrade",
        }
    }
}

/// What a verified signature says about the module.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Signed {
    /// The version from the trusted comment.
    pub version: Version,
    /// The id of the key that signed, 16 uppercase hex digits as minisign
    /// prints it.
    pub key_id: String,
}

/// A minisign public key that a plugin trusts.
///
/// Two keys are equal when their key text is.
#[derive(Clone)]
pub struct TrustedKey {
    key: PublicKey,
    id: String,
    text: String,
}

/// Text that is not a minisign public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a minisign public key: {reason}")]
pub struct InvalidKey {
    reason: String,
}

impl TrustedKey {
    /// Reads a public key from its base64 line (`RW...`) or from the two
    /// lines of a minisign `.pub` file (`untrusted comment: ...` then the
    /// base64 line).
    pub fn parse(text: &str) -> Result<Self, InvalidKey> {
        let invalid = |reason: &str| InvalidKey {
            reason: reason.to_string(),
        };
        let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
        let line = match (lines.next(), lines.next(), lines.next()) {
            (Some(only), None, _) => only,
            (Some(comment), Some(key), None) if comment.starts_with("untrusted comment:") => key,
            _ => {
                return Err(invalid(
                    "expected its base64 line (`RW...`) or the two lines of a `.pub` file",
                ));
            }
        };
        let bytes = BASE64
            .decode(line)
            .map_err(|_| invalid("its key line is not base64"))?;
        if bytes.len() != 42 {
            return Err(invalid(&format!(
                "its key line holds {} bytes, where a minisign public key has 42",
                bytes.len()
            )));
        }
        if &bytes[..2] != b"Ed" {
            return Err(invalid("it is not an Ed25519 key (`Ed`)"));
        }
        let key = PublicKey::from_base64(line).map_err(|err| invalid(&err.to_string()))?;
        Ok(Self {
            key,
            id: key_id(&bytes[2..10]),
            text: line.to_string(),
        })
    }

    /// The key id: 16 uppercase hex digits, as minisign prints it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key's base64 line, as a config lists it.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl FromStr for TrustedKey {
    type Err = InvalidKey;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl PartialEq for TrustedKey {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for TrustedKey {}

impl fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustedKey({})", self.id)
    }
}

impl fmt::Display for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A key id as minisign prints it: its 8 bytes as a little-endian number,
/// in uppercase hex.
fn key_id(bytes: &[u8]) -> String {
    bytes.iter().rev().map(|b| format!("{b:02X}")).collect()
}

/// The trusted comment that binds a signature to `plugin`, `version` and
/// the module with `sha256` (lowercase hex, as [`module_sha256`] gives it).
pub fn trusted_comment(plugin: &str, version: &Version, sha256: &str) -> String {
    format!("polyplug plugin={plugin} version={version} sha256={sha256}")
}

/// A module's sha256 as the loader computes it and a signature's trusted
/// comment names it: of the binary module, after WAT text is translated
/// (a binary module is hashed as it is).
pub fn module_sha256(module: &[u8]) -> Result<String, NotWasm> {
    let binary = wat::parse_bytes(module).map_err(|err| NotWasm {
        reason: err.to_string(),
    })?;
    Ok(crate::module::sha256(&binary))
}

/// Bytes that are neither a binary wasm module nor WAT text.
#[derive(Debug, Clone, thiserror::Error)]
#[error("neither a wasm module nor WAT text: {reason}")]
pub struct NotWasm {
    reason: String,
}

/// Where the loader looks for the signature of a module file: its path
/// with `.minisig` appended (`plugin.wasm` → `plugin.wasm.minisig`).
pub fn signature_path(module: &Path) -> PathBuf {
    let mut path = module.as_os_str().to_owned();
    path.push(".minisig");
    PathBuf::from(path)
}

/// Checks that `signature` (minisign signature text) is by one of `keys`,
/// over `module` (the module's bytes as stored), and that its trusted
/// comment names `plugin` and `sha256_hex` (the module's sha256 as
/// [`module_sha256`] computes it). Returns the signed version and the key
/// that signed.
pub fn verify(
    plugin: &str,
    module: &[u8],
    sha256_hex: &str,
    signature: &str,
    keys: &[TrustedKey],
) -> Result<Signed, SignatureError> {
    let malformed = |reason: &str| SignatureError::Malformed {
        reason: reason.to_string(),
    };
    let parsed = Signature::decode(signature).map_err(|_| {
        malformed(
            "expected minisign signature text: an untrusted comment, the signature, \
             a `trusted comment:` line and the global signature, one per line",
        )
    })?;
    // minisign-verify keeps the key id to itself: read it off the
    // signature line, which `decode` has just found to be base64 of 74
    // bytes: the algorithm, the key id and the signature.
    let line = signature.lines().nth(1).unwrap_or_default();
    let bytes = BASE64.decode(line.trim()).unwrap_or_default();
    let (Some(algorithm), Some(id)) = (bytes.get(..2), bytes.get(2..10)) else {
        return Err(malformed("its signature line is not minisign's"));
    };
    if algorithm != b"ED" {
        return Err(malformed(
            "it is a legacy minisign signature (`Ed`, over the raw bytes); \
             polyplug accepts prehashed ones (`ED`), minisign's default: sign the module again",
        ));
    }
    let key_id = key_id(id);
    let candidates: Vec<&TrustedKey> = keys.iter().filter(|key| key.id == key_id).collect();
    if candidates.is_empty() {
        return Err(SignatureError::UnknownKey { key_id });
    }
    if !candidates
        .iter()
        .any(|key| key.key.verify(module, &parsed, false).is_ok())
    {
        return Err(SignatureError::BadSignature { key_id });
    }
    let comment = Comment::parse(parsed.trusted_comment())?;
    if comment.plugin != plugin {
        return Err(SignatureError::WrongPlugin {
            signed_for: comment.plugin,
        });
    }
    if !comment.sha256.eq_ignore_ascii_case(sha256_hex) {
        return Err(SignatureError::WrongModule {
            signed_sha256: comment.sha256,
        });
    }
    Ok(Signed {
        version: comment.version,
        key_id,
    })
}

/// A trusted comment as [`trusted_comment`] writes it.
struct Comment {
    plugin: String,
    version: Version,
    sha256: String,
}

impl Comment {
    fn parse(text: &str) -> Result<Self, SignatureError> {
        let malformed = |why: &str| SignatureError::Malformed {
            reason: format!(
                "its trusted comment `{}` is not `polyplug plugin=<name> version=<semver> \
                 sha256=<64 lowercase hex>`: {why}",
                text.escape_debug()
            ),
        };
        let fields: Vec<&str> = text.split(' ').collect();
        let [prefix, plugin, version, sha256] = fields[..] else {
            return Err(malformed("expected 4 fields separated by single spaces"));
        };
        if prefix != "polyplug" {
            return Err(malformed("it does not start with `polyplug`"));
        }
        let plugin = plugin
            .strip_prefix("plugin=")
            .filter(|name| !name.is_empty())
            .ok_or_else(|| malformed("the second field is not `plugin=<name>`"))?;
        let version = version
            .strip_prefix("version=")
            .ok_or_else(|| malformed("the third field is not `version=<semver>`"))?;
        let version = Version::parse(version)
            .map_err(|err| malformed(&format!("version `{version}`: {err}")))?;
        let sha256 = sha256
            .strip_prefix("sha256=")
            .filter(|hex| {
                hex.len() == 64
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            })
            .ok_or_else(|| malformed("the fourth field is not `sha256=<64 lowercase hex>`"))?;
        Ok(Self {
            plugin: plugin.to_string(),
            version,
            sha256: sha256.to_string(),
        })
    }
}

/// The most a signature file may hold: a minisign signature with a
/// polyplug trusted comment is some 350 bytes.
const MAX_SIGNATURE: u64 = 16 << 10;

/// The signature check of loading: `Ok(None)` for a module that loads
/// unsigned (none found and none required, or one found but the plugin
/// trusts no key and requires none), the signed version otherwise.
pub(crate) fn check(
    plugin: &str,
    config: &PluginConfig,
    module: &[u8],
    sha256: &str,
) -> Result<Option<Signed>, SignatureError> {
    let Some(signature) = find(config)? else {
        if !config.signature_required {
            return Ok(None);
        }
        let looked_for = match &config.wasm {
            WasmSource::File(path) => format!("`{}`", signature_path(path).display()),
            _ => "`PluginConfig::signature`, as the module was given as bytes".to_string(),
        };
        return Err(SignatureError::Missing { looked_for });
    };
    if config.trusted_keys.is_empty() && !config.signature_required {
        return Ok(None);
    }
    verify(plugin, module, sha256, &signature, &config.trusted_keys).map(Some)
}

/// The signature given with the module, or else the one beside its file.
pub(crate) fn find(config: &PluginConfig) -> Result<Option<Arc<str>>, SignatureError> {
    if let Some(text) = &config.signature {
        return Ok(Some(text.clone()));
    }
    let WasmSource::File(module) = &config.wasm else {
        return Ok(None);
    };
    let path = signature_path(module);
    let unreadable = |source| SignatureError::Unreadable {
        path: path.display().to_string(),
        source,
    };
    let size = match std::fs::metadata(&path) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(unreadable(err)),
        Ok(meta) => meta.len(),
    };
    if size > MAX_SIGNATURE {
        return Err(SignatureError::Malformed {
            reason: format!(
                "`{}` is {size} bytes, larger than any minisign signature",
                path.display()
            ),
        });
    }
    let text = std::fs::read_to_string(&path).map_err(unreadable)?;
    Ok(Some(text.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODULE: &[u8] = b"\0asm\x01\0\0\0";

    struct Signer(minisign::KeyPair);

    impl Signer {
        fn new() -> Self {
            Self(minisign::KeyPair::generate_unencrypted_keypair().unwrap())
        }

        fn key(&self) -> TrustedKey {
            TrustedKey::parse(&self.0.pk.to_base64()).unwrap()
        }

        fn sign_with_comment(&self, module: &[u8], comment: &str) -> String {
            minisign::sign(Some(&self.0.pk), &self.0.sk, module, Some(comment), None)
                .unwrap()
                .to_string()
        }

        /// A signature of `module` for `plugin` at version 1.2.3.
        fn sign(&self, plugin: &str, module: &[u8]) -> String {
            let sha = module_sha256(module).unwrap();
            let comment = trusted_comment(plugin, &Version::new(1, 2, 3), &sha);
            self.sign_with_comment(module, &comment)
        }
    }

    fn check(plugin: &str, signature: &str, keys: &[TrustedKey]) -> Result<Signed, SignatureError> {
        verify(
            plugin,
            MODULE,
            &module_sha256(MODULE).unwrap(),
            signature,
            keys,
        )
    }

    #[test]
    fn a_good_signature_gives_the_signed_version_and_key() {
        let signer = Signer::new();
        let signed = check("p", &signer.sign("p", MODULE), &[signer.key()]).unwrap();
        assert_eq!(signed.version, Version::new(1, 2, 3));
        assert_eq!(signed.key_id, signer.key().id());
    }

    #[test]
    fn the_key_id_is_the_one_minisign_prints() {
        let signer = Signer::new();
        let pub_file = signer.0.pk.to_box().unwrap().to_string();
        let key = signer.key();
        assert_eq!(key.id().len(), 16);
        assert!(
            pub_file.starts_with(&format!(
                "untrusted comment: minisign public key: {}\n",
                key.id()
            )),
            "{pub_file}"
        );
    }

    #[test]
    fn a_key_reads_from_its_line_or_its_pub_file() {
        let signer = Signer::new();
        let line = signer.0.pk.to_base64();
        let pub_file = signer.0.pk.to_box().unwrap().to_string();
        assert_eq!(TrustedKey::parse(&pub_file).unwrap(), signer.key());
        assert_eq!(
            TrustedKey::parse(&format!("  {line}\n")).unwrap(),
            signer.key()
        );
        assert_eq!(signer.key().text(), line);
    }

    #[test]
    fn text_that_is_not_a_public_key_is_refused() {
        let signer = Signer::new();
        let secret_file = signer.0.sk.to_box(None).unwrap().to_string();
        let line = signer.0.pk.to_base64();
        for text in [
            "",
            "keys/release.pub",
            "RWnot-base64!",
            &line[..line.len() - 4],
            &format!("comment\n{line}"),
            &format!("untrusted comment: a\n{line}\n{line}"),
            &secret_file,
        ] {
            assert!(TrustedKey::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn a_key_the_plugin_does_not_trust_is_an_unknown_key() {
        let (trusted, stranger) = (Signer::new(), Signer::new());
        let err = check("p", &stranger.sign("p", MODULE), &[trusted.key()]).unwrap_err();
        assert!(
            matches!(&err, SignatureError::UnknownKey { key_id } if key_id == stranger.key().id()),
            "{err}"
        );
        let err = check("p", &stranger.sign("p", MODULE), &[]).unwrap_err();
        assert!(matches!(err, SignatureError::UnknownKey { .. }), "{err}");
    }

    #[test]
    fn a_module_altered_by_one_byte_fails_verification() {
        let signer = Signer::new();
        let mut altered = MODULE.to_vec();
        altered[7] ^= 1;
        let signature = signer.sign("p", MODULE);
        let err = verify(
            "p",
            &altered,
            &module_sha256(MODULE).unwrap(),
            &signature,
            &[signer.key()],
        )
        .unwrap_err();
        assert!(matches!(err, SignatureError::BadSignature { .. }), "{err}");
    }

    #[test]
    fn an_edited_trusted_comment_fails_verification() {
        let signer = Signer::new();
        let signature = signer.sign("p", MODULE);
        for (from, to) in [("version=1.2.3", "version=9.0.0"), ("plugin=p", "plugin=q")] {
            let edited = signature.replace(from, to);
            assert_ne!(edited, signature);
            let err = check("p", &edited, &[signer.key()]).unwrap_err();
            assert!(
                matches!(err, SignatureError::BadSignature { .. }),
                "{to}: {err}"
            );
        }
    }

    #[test]
    fn a_signature_for_plugin_a_is_refused_for_plugin_b() {
        let signer = Signer::new();
        let err = check("b", &signer.sign("a", MODULE), &[signer.key()]).unwrap_err();
        assert!(
            matches!(&err, SignatureError::WrongPlugin { signed_for } if signed_for == "a"),
            "{err}"
        );
    }

    #[test]
    fn a_comment_naming_another_module_is_refused() {
        let signer = Signer::new();
        let other = "ab".repeat(32);
        let comment = trusted_comment("p", &Version::new(1, 0, 0), &other);
        let err = check(
            "p",
            &signer.sign_with_comment(MODULE, &comment),
            &[signer.key()],
        )
        .unwrap_err();
        assert!(
            matches!(&err, SignatureError::WrongModule { signed_sha256 } if *signed_sha256 == other),
            "{err}"
        );
    }

    #[test]
    fn a_signed_comment_not_in_polyplug_form_is_malformed() {
        let signer = Signer::new();
        let sha = module_sha256(MODULE).unwrap();
        for comment in [
            "timestamp:1700000000\tfile:plugin.wasm".to_string(),
            format!("polyplug plugin=p version=1.0 sha256={sha}"),
            format!(
                "polyplug plugin=p version=1.0.0 sha256={}",
                sha.to_uppercase()
            ),
            format!("polyplug plugin=p version=1.0.0 sha256={}", &sha[1..]),
            format!("polyplug plugin=p  version=1.0.0 sha256={sha}"),
            format!("polyplug plugin=p\tversion=1.0.0 sha256={sha}"),
            format!("polyplug version=1.0.0 plugin=p sha256={sha}"),
            format!("polyplug plugin= version=1.0.0 sha256={sha}"),
            format!("polyplug plugin=p version=1.0.0 sha256={sha} extra=1"),
            format!("minisign plugin=p version=1.0.0 sha256={sha}"),
        ] {
            let err = check(
                "p",
                &signer.sign_with_comment(MODULE, &comment),
                &[signer.key()],
            )
            .unwrap_err();
            assert!(
                matches!(err, SignatureError::Malformed { .. }),
                "{comment}: {err}"
            );
        }
    }

    #[test]
    fn text_that_is_not_a_signature_is_malformed() {
        let signer = Signer::new();
        let good = signer.sign("p", MODULE);
        let lines: Vec<&str> = good.lines().collect();
        for text in [
            "",
            "not a signature",
            &lines[..3].join("\n"),
            &good.replace(lines[1], "RUQ"),
        ] {
            let err = check("p", text, &[signer.key()]).unwrap_err();
            assert!(
                matches!(err, SignatureError::Malformed { .. }),
                "{text:?}: {err}"
            );
        }
    }

    #[test]
    fn a_legacy_signature_is_malformed() {
        let signer = Signer::new();
        let good = signer.sign("p", MODULE);
        let line = good.lines().nth(1).unwrap();
        let mut bytes = BASE64.decode(line).unwrap();
        assert_eq!(&bytes[..2], b"ED", "minisign signs prehashed");
        bytes[1] = b'd';
        let legacy = good.replace(line, &BASE64.encode(&bytes));
        let err = check("p", &legacy, &[signer.key()]).unwrap_err();
        assert!(
            matches!(&err, SignatureError::Malformed { reason } if reason.contains("legacy")),
            "{err}"
        );
    }

    #[test]
    fn every_trusted_key_is_accepted_for_rotation() {
        let (old, new) = (Signer::new(), Signer::new());
        let keys = [old.key(), new.key()];
        for signer in [&old, &new] {
            let signed = check("p", &signer.sign("p", MODULE), &keys).unwrap();
            assert_eq!(signed.key_id, signer.key().id());
        }
    }

    #[test]
    fn wat_text_is_hashed_as_its_binary() {
        let text = b"(module)";
        assert_eq!(
            module_sha256(text).unwrap(),
            module_sha256(MODULE).unwrap(),
            "`(module)` translates to the empty binary module"
        );
        assert!(module_sha256(b"(module").is_err());
    }

    #[test]
    fn the_signature_of_a_module_file_sits_beside_it_with_minisig_appended() {
        assert_eq!(
            signature_path(Path::new("plugins/p.wasm")),
            Path::new("plugins/p.wasm.minisig")
        );
    }

    #[test]
    fn every_failure_has_its_own_kind() {
        let errors = [
            SignatureError::Missing {
                looked_for: "`p.wasm.minisig`".into(),
            },
            SignatureError::Unreadable {
                path: "p.wasm.minisig".into(),
                source: std::io::ErrorKind::PermissionDenied.into(),
            },
            SignatureError::Malformed { reason: "x".into() },
            SignatureError::UnknownKey {
                key_id: "0123456789ABCDEF".into(),
            },
            SignatureError::BadSignature {
                key_id: "0123456789ABCDEF".into(),
            },
            SignatureError::WrongPlugin {
                signed_for: "a".into(),
            },
            SignatureError::WrongModule {
                signed_sha256: "00".repeat(32),
            },
            SignatureError::Downgrade {
                live: Version::new(2, 0, 0),
                offered: Version::new(1, 0, 0),
            },
        ];
        let kinds: Vec<&str> = errors.iter().map(SignatureError::kind).collect();
        assert_eq!(
            kinds,
            [
                "signature_missing",
                "signature_unreadable",
                "signature_malformed",
                "signature_unknown_key",
                "signature_invalid",
                "signature_wrong_plugin",
                "signature_wrong_module",
                "downgrade",
            ]
        );
        for err in &errors {
            let message = err.to_string();
            assert!(message.starts_with(|c: char| c.is_lowercase()), "{message}");
        }
    }
}

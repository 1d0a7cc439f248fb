//! Bearer tokens for the admin API: `Authorization: Bearer <token>`
//! checked against the tokens of a file and of `POLYPLUG_ADMIN_TOKEN`.
//!
//! The token file holds one token per line; blank lines and lines that
//! begin with `#` are skipped, and whitespace around a token is trimmed. A
//! token is at least [`MIN_TOKEN_LEN`] printable ASCII characters without
//! whitespace (so `token # note` is refused, not read as a token with a
//! comment). Loading refuses a file with no token.
//!
//! On unix, a file that group or others may **write** is refused: whoever
//! can write it can let themselves in. A file they may only **read** loads
//! with a warning, not an error, because the usual secret mounts make
//! their files readable to all (Kubernetes secrets are 0644 unless
//! `defaultMode` says otherwise, Docker secrets 0444), and refusing them
//! would push people to copy the tokens somewhere worse.
//!
//! Only the sha256 of each token is kept. A presented token is hashed and
//! compared with every configured digest in constant time
//! ([`subtle::ConstantTimeEq`]), without stopping at a match, so the time a
//! check takes says nothing about which token, or how much of one, was
//! right. What identifies the caller in the audit log is a [`TokenId`]:
//! eight hex digits of the token's sha256 and where it was configured.

use std::fmt;
use std::fs::File;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use axum::http::{HeaderValue, StatusCode};
use sha2::{Digest as _, Sha256};
use subtle::{Choice, ConditionallySelectable as _, ConstantTimeEq as _};

/// The environment variable a token may come from (the caller reads it and
/// passes its value to [`Tokens::load`]).
pub const TOKEN_ENV: &str = "POLYPLUG_ADMIN_TOKEN";

/// The fewest characters a token may have.
pub const MIN_TOKEN_LEN: usize = 16;

/// The admin tokens, as sha256 digests; [`Tokens::check`] takes a request's
/// `Authorization` header.
#[derive(Clone)]
pub struct Tokens {
    tokens: Vec<Token>,
}

#[derive(Clone)]
struct Token {
    digest: [u8; 32],
    id: TokenId,
}

/// Who a request was authenticated as, safe to log: the first 8 hex digits
/// of the token's sha256 and where the token was configured. Displays as
/// `1a2b3c4d (file:3)` or `1a2b3c4d (env)`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenId {
    pub hash: String,
    pub source: TokenSource,
}

/// Where a token was configured.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// Line `line` (counting from 1) of the token file at `path`.
    File { path: PathBuf, line: usize },
    /// The [`TOKEN_ENV`] environment variable.
    Env,
}

/// Why the tokens could not be loaded. Messages name where the culprit is,
/// never a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error("no admin token is configured: set `{TOKEN_ENV}` or give a token file")]
    NotConfigured,

    #[error("cannot read admin token file `{}`: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },

    #[error(
        "admin token file `{}` is writable by group or others (mode {mode:03o}), so they could add a token of their own: `chmod go-w` it",
        path.display()
    )]
    Writable { path: PathBuf, mode: u32 },

    #[error(
        "admin token file `{}` holds no token (blank lines and `#` comments are not tokens)",
        path.display()
    )]
    Empty { path: PathBuf },

    #[error(
        "the admin token from {origin} is {length} characters; a token needs at least {MIN_TOKEN_LEN}"
    )]
    TooShort { origin: TokenSource, length: usize },

    #[error(
        "the admin token from {origin} holds whitespace or a character that is not printable ASCII (a comment goes on a line of its own)"
    )]
    InvalidCharacter { origin: TokenSource },
}

/// Why a request is not let in. [`AuthError::status`] is its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    #[error("the admin API needs an `Authorization: Bearer <token>` header")]
    Missing,

    #[error("the `Authorization` header is not `Bearer <token>`")]
    NotBearer,

    #[error("the bearer token is not an admin token")]
    Wrong,
}

impl AuthError {
    /// 401 when no bearer token came (the response should carry
    /// `WWW-Authenticate: Bearer`), 403 when one came and is not an admin
    /// token.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::Missing | AuthError::NotBearer => StatusCode::UNAUTHORIZED,
            AuthError::Wrong => StatusCode::FORBIDDEN,
        }
    }
}

impl Tokens {
    /// The tokens of the token file `file` and of `env`, the value of
    /// [`TOKEN_ENV`] if it is set; a request may present any of them. An
    /// `env` that is set but empty is refused as too short, not taken as
    /// unset.
    pub fn load(file: Option<&Path>, env: Option<&str>) -> Result<Tokens, TokenError> {
        let mut tokens = Vec::new();
        if let Some(path) = file {
            let text = read_token_file(path)?;
            let before = tokens.len();
            for (index, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let origin = TokenSource::File {
                    path: path.to_path_buf(),
                    line: index + 1,
                };
                tokens.push(Token::new(line, origin)?);
            }
            if tokens.len() == before {
                return Err(TokenError::Empty {
                    path: path.to_path_buf(),
                });
            }
        }
        if let Some(value) = env {
            tokens.push(Token::new(value.trim(), TokenSource::Env)?);
        }
        if tokens.is_empty() {
            return Err(TokenError::NotConfigured);
        }
        Ok(Tokens { tokens })
    }

    /// Checks a request's `Authorization` header (`None` when it has none).
    /// The scheme `Bearer` is matched without regard to case.
    pub fn check(&self, authorization: Option<&HeaderValue>) -> Result<&TokenId, AuthError> {
        let header = authorization.ok_or(AuthError::Missing)?;
        let token = bearer_token(header.as_bytes()).ok_or(AuthError::NotBearer)?;
        let presented: [u8; 32] = Sha256::digest(token).into();
        let mut found = Choice::from(0);
        let mut index = 0u64;
        for (i, configured) in self.tokens.iter().enumerate() {
            let equal = configured.digest.ct_eq(&presented);
            index.conditional_assign(&(i as u64), equal & !found);
            found |= equal;
        }
        if bool::from(found) {
            Ok(&self.tokens[index as usize].id)
        } else {
            Err(AuthError::Wrong)
        }
    }
}

impl Token {
    fn new(token: &str, origin: TokenSource) -> Result<Token, TokenError> {
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::InvalidCharacter { origin });
        }
        if token.len() < MIN_TOKEN_LEN {
            return Err(TokenError::TooShort {
                origin,
                length: token.len(),
            });
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let hash = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Token {
            digest,
            id: TokenId {
                hash,
                source: origin,
            },
        })
    }
}

/// The token of a `Bearer <token>` header value.
fn bearer_token(header: &[u8]) -> Option<&[u8]> {
    let header = header.trim_ascii();
    let gap = header.iter().position(|b| *b == b' ' || *b == b'\t')?;
    let (scheme, token) = header.split_at(gap);
    let token = token.trim_ascii();
    (scheme.eq_ignore_ascii_case(b"bearer") && !token.is_empty()).then_some(token)
}

fn read_token_file(path: &Path) -> Result<String, TokenError> {
    let read = |source| TokenError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(read)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = file.metadata().map_err(read)?.permissions().mode() & 0o777;
        if mode & 0o022 != 0 {
            return Err(TokenError::Writable {
                path: path.to_path_buf(),
                mode,
            });
        }
        if mode & 0o044 != 0 {
            tracing::warn!(
                "admin token file `{}` is readable by group or others (mode {mode:03o}); `chmod 600` it unless a secret mount sets its mode",
                path.display()
            );
        }
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(read)?;
    Ok(text)
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            TokenSource::File { line, .. } => write!(f, "{} (file:{line})", self.hash),
            TokenSource::Env => write!(f, "{} (env)", self.hash),
        }
    }
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::File { path, line } => write!(f, "line {line} of `{}`", path.display()),
            TokenSource::Env => write!(f, "`{TOKEN_ENV}`"),
        }
    }
}

/// Lists the tokens by [`TokenId`]; never a token or its full digest.
impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.tokens.iter().map(|token| token.id.to_string()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    const FILE_TOKEN: &str = "file-token-0123456789";
    const ENV_TOKEN: &str = "env-token-abcdefghij";

    fn token_file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    fn header(value: &str) -> HeaderValue {
        HeaderValue::from_str(value).unwrap()
    }

    fn from_file(text: &str) -> Result<Tokens, TokenError> {
        Tokens::load(Some(token_file(text).path()), None)
    }

    fn short_hash(token: &str) -> String {
        Sha256::digest(token.as_bytes())[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn a_request_without_the_header_is_missing_and_gets_401() {
        let tokens = Tokens::load(None, Some(ENV_TOKEN)).unwrap();
        assert_eq!(tokens.check(None), Err(AuthError::Missing));
        assert_eq!(AuthError::Missing.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn a_header_that_is_not_bearer_gets_401() {
        let tokens = Tokens::load(None, Some(ENV_TOKEN)).unwrap();
        for value in [
            "",
            "Bearer",
            "Bearer   ",
            &format!("Basic {ENV_TOKEN}"),
            &format!("Token {ENV_TOKEN}"),
            &format!("Bearer{ENV_TOKEN}"),
            ENV_TOKEN,
        ] {
            let err = tokens.check(Some(&header(value))).unwrap_err();
            assert_eq!(err, AuthError::NotBearer, "{value:?}");
            assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
        }
    }

    #[test]
    fn a_token_that_is_not_configured_is_wrong_and_gets_403() {
        let tokens = Tokens::load(None, Some(ENV_TOKEN)).unwrap();
        for token in [
            "not-the-token-at-all",
            &ENV_TOKEN[..ENV_TOKEN.len() - 1],
            &format!("{ENV_TOKEN}x"),
            &ENV_TOKEN.to_uppercase(),
        ] {
            let err = tokens
                .check(Some(&header(&format!("Bearer {token}"))))
                .unwrap_err();
            assert_eq!(err, AuthError::Wrong, "{token:?}");
            assert_eq!(err.status(), StatusCode::FORBIDDEN);
        }
    }

    #[test]
    fn the_bearer_scheme_matches_in_any_case() {
        let tokens = Tokens::load(None, Some(ENV_TOKEN)).unwrap();
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let value = format!("{scheme} {ENV_TOKEN}");
            assert!(tokens.check(Some(&header(&value))).is_ok(), "{value}");
        }
        let padded = format!("Bearer \t {ENV_TOKEN}  ");
        assert!(tokens.check(Some(&header(&padded))).is_ok());
    }

    #[test]
    fn a_token_from_the_file_is_let_in_with_its_line_number() {
        let file = token_file(&format!(
            "# admin tokens\n\nsecond-token-9876543210\n  {FILE_TOKEN}  \r\n"
        ));
        let tokens = Tokens::load(Some(file.path()), None).unwrap();
        let id = tokens
            .check(Some(&header(&format!("Bearer {FILE_TOKEN}"))))
            .unwrap();
        assert_eq!(id.hash, short_hash(FILE_TOKEN));
        assert_eq!(
            id.source,
            TokenSource::File {
                path: file.path().to_path_buf(),
                line: 4
            }
        );
        assert_eq!(
            id.to_string(),
            format!("{} (file:4)", short_hash(FILE_TOKEN))
        );

        let first = tokens
            .check(Some(&header("Bearer second-token-9876543210")))
            .unwrap();
        assert!(matches!(first.source, TokenSource::File { line: 3, .. }));
    }

    #[test]
    fn a_token_from_the_environment_is_let_in_as_env() {
        let tokens = Tokens::load(None, Some(&format!(" {ENV_TOKEN}\n"))).unwrap();
        let id = tokens
            .check(Some(&header(&format!("Bearer {ENV_TOKEN}"))))
            .unwrap();
        assert_eq!(id.source, TokenSource::Env);
        assert_eq!(id.to_string(), format!("{} (env)", short_hash(ENV_TOKEN)));
    }

    #[test]
    fn tokens_from_the_file_and_the_environment_are_both_let_in() {
        let file = token_file(FILE_TOKEN);
        let tokens = Tokens::load(Some(file.path()), Some(ENV_TOKEN)).unwrap();
        let from_file = tokens
            .check(Some(&header(&format!("Bearer {FILE_TOKEN}"))))
            .unwrap();
        assert!(matches!(
            from_file.source,
            TokenSource::File { line: 1, .. }
        ));
        let from_env = tokens
            .check(Some(&header(&format!("Bearer {ENV_TOKEN}"))))
            .unwrap();
        assert_eq!(from_env.source, TokenSource::Env);
    }

    #[test]
    fn a_token_configured_twice_is_let_in_as_its_first_place() {
        let file = token_file(&format!("{FILE_TOKEN}\n{FILE_TOKEN}\n"));
        let tokens = Tokens::load(Some(file.path()), Some(FILE_TOKEN)).unwrap();
        let id = tokens
            .check(Some(&header(&format!("Bearer {FILE_TOKEN}"))))
            .unwrap();
        assert!(matches!(id.source, TokenSource::File { line: 1, .. }));
    }

    #[test]
    fn a_short_token_in_the_file_is_refused_naming_its_line() {
        let err = from_file(&format!("{FILE_TOKEN}\n# note\nshort-token\n")).unwrap_err();
        assert!(
            matches!(
                &err,
                TokenError::TooShort {
                    origin: TokenSource::File { line: 3, .. },
                    length: 11
                }
            ),
            "{err}"
        );
        assert!(!err.to_string().contains("short-token"), "{err}");
    }

    #[test]
    fn a_short_or_empty_environment_token_is_refused() {
        for value in ["", "  ", "fifteen-chars.."] {
            let err = Tokens::load(None, Some(value)).unwrap_err();
            assert!(
                matches!(
                    err,
                    TokenError::TooShort {
                        origin: TokenSource::Env,
                        ..
                    }
                ),
                "{value:?}: {err}"
            );
        }
        assert!(Tokens::load(None, Some("sixteen-chars...")).is_ok());
    }

    #[test]
    fn a_token_with_whitespace_inside_is_refused() {
        let err = from_file(&format!("{FILE_TOKEN} # the deploy token\n")).unwrap_err();
        assert!(
            matches!(
                err,
                TokenError::InvalidCharacter {
                    origin: TokenSource::File { line: 1, .. }
                }
            ),
            "{err}"
        );
        let err = Tokens::load(None, Some("tok\u{e9}n-with-accent-0123")).unwrap_err();
        assert!(matches!(err, TokenError::InvalidCharacter { .. }), "{err}");
    }

    #[test]
    fn a_file_of_only_comments_and_blank_lines_is_refused() {
        for text in ["", "\n\n", "# nothing yet\n   \n#another\n"] {
            let err = from_file(text).unwrap_err();
            assert!(matches!(err, TokenError::Empty { .. }), "{text:?}: {err}");
        }
    }

    #[test]
    fn no_file_and_no_environment_token_is_not_configured() {
        let err = Tokens::load(None, None).unwrap_err();
        assert!(matches!(err, TokenError::NotConfigured), "{err}");
    }

    #[test]
    fn a_missing_file_is_a_read_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        let err = Tokens::load(Some(&path), Some(ENV_TOKEN)).unwrap_err();
        assert!(
            matches!(&err, TokenError::Read { path: p, .. } if *p == path),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_may_write_is_refused_and_one_they_may_read_is_loaded() {
        use std::os::unix::fs::PermissionsExt as _;

        let file = token_file(FILE_TOKEN);
        for mode in [0o620, 0o602, 0o666] {
            std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(mode)).unwrap();
            let err = Tokens::load(Some(file.path()), None).unwrap_err();
            assert!(
                matches!(err, TokenError::Writable { mode: m, .. } if m == mode),
                "{mode:o}: {err}"
            );
        }
        for mode in [0o600, 0o400, 0o640, 0o644, 0o444] {
            std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(Tokens::load(Some(file.path()), None).is_ok(), "{mode:o}");
        }
    }

    #[test]
    fn debug_output_shows_no_token() {
        let file = token_file(FILE_TOKEN);
        let tokens = Tokens::load(Some(file.path()), Some(ENV_TOKEN)).unwrap();
        let debug = format!("{tokens:?}");
        assert!(
            !debug.contains(FILE_TOKEN) && !debug.contains(ENV_TOKEN),
            "{debug}"
        );
        assert!(debug.contains(&short_hash(ENV_TOKEN)), "{debug}");
    }
}

//! `polyplug keygen` and `polyplug sign`: make a minisign key pair, and sign
//! a module for one plugin and version (what the library checks is in
//! `polyplug::signature`). Neither needs a config file.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use minisign::{KeyPair, PublicKey, SecretKey, SecretKeyBox};
use polyplug::TrustedKey;
use polyplug::signature::{self, Version};

/// Writes `<dir>/<name>.key` (the secret key, unencrypted, readable by its
/// owner only) and `<dir>/<name>.pub`, and says how to trust the key.
pub fn keygen(dir: &Path, name: &str, force: bool) -> anyhow::Result<()> {
    let secret_path = dir.join(format!("{name}.key"));
    let public_path = dir.join(format!("{name}.pub"));
    if !force {
        for path in [&secret_path, &public_path] {
            if path.exists() {
                bail!(
                    "`{}` exists already: polyplug keygen does not replace a key \
                     (pass `--force` to overwrite it, or choose another `--name`)",
                    path.display()
                );
            }
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let KeyPair { pk, sk } =
        KeyPair::generate_unencrypted_keypair().context("cannot generate a key pair")?;
    let public = pk.to_box().context("cannot encode the public key")?;
    let secret = sk
        .to_box(Some("polyplug secret key (unencrypted)"))
        .context("cannot encode the secret key")?;
    write_secret(&secret_path, secret.to_string().as_bytes(), force)?;
    std::fs::write(&public_path, public.to_string())
        .with_context(|| format!("cannot write `{}`", public_path.display()))?;
    let key = TrustedKey::parse(&pk.to_base64()).context("the new public key does not parse")?;
    println!(
        "wrote `{}` (the secret key, unencrypted: keep it private) and `{}`",
        secret_path.display(),
        public_path.display()
    );
    println!("public key {}: {}", key.id(), key.text());
    println!();
    println!("to load only plugins signed with it, add to polyplug.toml:");
    println!();
    println!("  [signatures]");
    println!(
        "  trusted_keys = [\"{}\"]  # or the path of `{}`, relative to the config",
        key.text(),
        public_path.display()
    );
    println!("  required = true");
    Ok(())
}

/// The secret key file: created readable and writable by its owner only,
/// and never over an existing file unless `force`.
fn write_secret(path: &Path, bytes: &[u8], force: bool) -> anyhow::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create `{}`", path.display()))?;
    // `mode` applies to a file it creates; one overwritten keeps its own.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict `{}` to its owner", path.display()))?;
    }
    file.write_all(bytes)
        .with_context(|| format!("cannot write `{}`", path.display()))
}

/// What `polyplug sign` is asked to sign.
pub struct Request<'a> {
    pub module: &'a Path,
    pub key: &'a Path,
    pub plugin: &'a str,
    pub version: &'a Version,
    pub output: Option<&'a Path>,
}

/// Signs the module's bytes as they are, with the trusted comment
/// `polyplug plugin=<name> version=<semver> sha256=<hex>` (the sha256 the
/// loader computes: of the binary, for WAT text too), checks the result as
/// the loader will, and writes it to `<module>.minisig` or `output`.
pub fn sign(request: &Request<'_>) -> anyhow::Result<()> {
    let module = request.module;
    let bytes =
        std::fs::read(module).with_context(|| format!("cannot read `{}`", module.display()))?;
    let sha256 = signature::module_sha256(&bytes)
        .with_context(|| format!("cannot sign `{}`", module.display()))?;
    let secret = read_secret_key(request.key)?;
    let public =
        PublicKey::from_secret_key(&secret).context("the secret key holds no public key")?;
    let comment = signature::trusted_comment(request.plugin, request.version, &sha256);
    let text = minisign::sign(
        Some(&public),
        &secret,
        bytes.as_slice(),
        Some(&comment),
        Some("signature from polyplug sign"),
    )
    .context("cannot sign")?
    .to_string();
    let key = TrustedKey::parse(&public.to_base64()).context("the public key does not parse")?;
    signature::verify(
        request.plugin,
        &bytes,
        &sha256,
        &text,
        std::slice::from_ref(&key),
    )
    .context("the new signature does not verify")?;
    let output = request
        .output
        .map(Path::to_path_buf)
        .unwrap_or_else(|| signature::signature_path(module));
    std::fs::write(&output, &text)
        .with_context(|| format!("cannot write `{}`", output.display()))?;
    println!(
        "signed `{}` for plugin `{}` version {} with key {}: wrote `{}`",
        module.display(),
        request.plugin,
        request.version,
        key.id(),
        output.display()
    );
    println!("trusted comment: {comment}");
    Ok(())
}

fn read_secret_key(path: &Path) -> anyhow::Result<SecretKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read secret key `{}`", path.display()))?;
    SecretKeyBox::from_string(&text)
        .and_then(SecretKeyBox::into_unencrypted_secret_key)
        .map_err(|err| {
            anyhow::anyhow!(
                "`{}` is not an unencrypted minisign secret key ({err}): use a key made by \
                 `polyplug keygen`; with a password-protected key, sign with minisign itself, \
                 giving the trusted comment `polyplug plugin=<name> version=<semver> sha256=<hex>`",
                path.display()
            )
        })
}

/// Checks `--plugin` as a config checks plugin names.
pub fn plugin_name(name: &str) -> Result<String, String> {
    if polyplug::config::valid_plugin_name(name) {
        Ok(name.to_string())
    } else {
        Err("plugin names are lowercase letters, digits, `_` and `-`, \
             starting with a letter or digit"
            .to_string())
    }
}

//! Files: a WASI plugin with one directory mounted tries to step outside
//! it (`..`, an absolute path, symlinks pointing out) and to write into a
//! read-only mount. Each attempt fails inside the plugin with a WASI errno,
//! which the module writes as its output; the host's files stay untouched.

use std::path::{Path, PathBuf};

use polyplug::{AllowedPath, PluginConfig, WasmSource};

use super::harness::{Case, Cost, Expect, check_once};
use super::wat::{kernel_bytes, module_importing};

/// WASI errnos (wasi_snapshot_preview1). wasmtime-wasi answers every
/// escape, and every write to a read-only mount, with `perm`.
const SUCCESS: u64 = 0;
const ERRNO_PERM: u64 = 63;

const WASI: &str = r#"
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
"#;

/// `read` and `write` open the path in config value `path`, relative to the
/// first mount (fd 3), following symlinks; they close what they opened and
/// write the errno.
fn body() -> String {
    format!(
        r#"(memory (export "memory") 1)
        {key}
        ;; Copies config value `path` to offset 1024; returns its length.
        (func $path (result i32) (local $h i64) (local $len i64) (local $i i64)
          (local.set $h (call $config_get (call $key)))
          (local.set $len (call $length (local.get $h)))
          (block $done (loop $copy
            (br_if $done (i64.ge_u (local.get $i) (local.get $len)))
            (i32.store8 (i32.wrap_i64 (i64.add (i64.const 1024) (local.get $i)))
              (call $load_u8 (i64.add (local.get $h) (local.get $i))))
            (local.set $i (i64.add (local.get $i) (i64.const 1)))
            (br $copy)))
          (i32.wrap_i64 (local.get $len)))
        (func $open (param $oflags i32) (param $rights i64) (local $errno i32)
          (local.set $errno
            (call $path_open (i32.const 3) (i32.const 1) (i32.const 1024) (call $path)
              (local.get $oflags) (local.get $rights) (i64.const 0) (i32.const 0) (i32.const 16)))
          (if (i32.eqz (local.get $errno))
            (then (drop (call $fd_close (i32.load (i32.const 16))))))
          (call $emit_number (i64.extend_i32_u (local.get $errno))))
        ;; rights: fd_read (2); fd_write (64) with oflags creat|trunc (9).
        (func (export "read") (result i32) (call $open (i32.const 0) (i64.const 2)) (i32.const 0))
        (func (export "write") (result i32) (call $open (i32.const 9) (i64.const 64)) (i32.const 0))"#,
        key = kernel_bytes("$key", b"path"),
    )
}

/// A directory tree on the host, removed on drop:
///
/// ```text
/// outside.txt            the secret next to the mount
/// mount/inside.txt
/// mount/up -> ..         a relative symlink out
/// mount/etc -> /etc      an absolute symlink out
/// ```
pub struct Sandbox {
    root: PathBuf,
}

impl Sandbox {
    pub fn new() -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "polyplug-hostile-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let mount = root.join("mount");
        std::fs::create_dir_all(&mount).unwrap();
        std::fs::write(root.join("outside.txt"), "secret").unwrap();
        std::fs::write(mount.join("inside.txt"), "hello").unwrap();
        std::os::unix::fs::symlink("..", mount.join("up")).unwrap();
        std::os::unix::fs::symlink("/etc", mount.join("etc")).unwrap();
        Self { root }
    }

    pub fn mount(&self) -> PathBuf {
        self.root.join("mount")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn plugin(mount: &Path, writable: bool, path: &str) -> PluginConfig {
    let module = module_importing(WASI, &body());
    let mut plugin = PluginConfig::new(WasmSource::Bytes(module.as_bytes().into()));
    plugin.wasi = true;
    plugin.allowed_paths = vec![AllowedPath::new(mount.to_path_buf(), "/data", writable)];
    plugin.config.insert("path".into(), path.into());
    plugin
}

fn open(sandbox: &Sandbox, function: &'static str, writable: bool, path: &str, errno: u64) -> Case {
    let mount = if writable { "writable" } else { "read-only" };
    Case::new(
        format!("`{function}` of `{path}` in a {mount} mount"),
        plugin(&sandbox.mount(), writable, path),
        function,
        Expect::Output(errno.to_string().into_bytes()),
    )
    .cost(Cost::Costly(200))
}

pub fn cases(sandbox: &Sandbox) -> Vec<Case> {
    vec![
        open(sandbox, "read", false, "inside.txt", SUCCESS),
        open(sandbox, "read", false, "../outside.txt", ERRNO_PERM),
        open(sandbox, "read", false, "/etc/passwd", ERRNO_PERM),
        open(sandbox, "read", false, "up/outside.txt", ERRNO_PERM),
        open(sandbox, "read", false, "etc/passwd", ERRNO_PERM),
        open(sandbox, "write", false, "new.txt", ERRNO_PERM),
        open(sandbox, "write", false, "inside.txt", ERRNO_PERM),
        open(sandbox, "read", false, "/data/inside.txt", ERRNO_PERM),
        open(sandbox, "write", true, "written.txt", SUCCESS),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wasi_plugin_stays_inside_its_mounts() {
    let sandbox = Sandbox::new();
    check_once(cases(&sandbox)).await;
    // The writable mount took the write; the read-only one changed nothing.
    let mount = sandbox.mount();
    assert!(mount.join("written.txt").is_file());
    assert!(!mount.join("new.txt").exists());
    assert_eq!(
        std::fs::read_to_string(mount.join("inside.txt")).unwrap(),
        "hello"
    );
}

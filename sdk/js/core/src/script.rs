//! The script a plugin runs, as the compiler stored it.
//!
//! The core imports four functions from `polyplug:js`; the compiler
//! replaces each pair with a length constant and a `memory.init` from a
//! passive data segment holding the bytes:
//!
//! - `source_len`/`source_copy`: the script source (UTF-8);
//! - `manifest_len`/`manifest_copy`: the script's file name, then the
//!   names of its exports in wasm-export order, one per line.

#[link(wasm_import_module = "polyplug:js")]
unsafe extern "C" {
    fn source_len() -> usize;
    fn source_copy(dst: *mut u8);
    fn manifest_len() -> usize;
    fn manifest_copy(dst: *mut u8);
}

pub struct Script {
    /// The file name the compiler was given, for error messages.
    pub name: String,
    pub source: String,
    /// `__invoke(i)` runs `exports[i]`.
    pub exports: Vec<String>,
}

pub fn load() -> Script {
    // SAFETY: the compiler's copy functions write exactly `*_len()` bytes.
    let source = unsafe { read(source_len(), source_copy) };
    let manifest = unsafe { read(manifest_len(), manifest_copy) };
    let mut lines = manifest.lines().map(str::to_owned);
    let name = lines.next().unwrap_or_default();
    Script {
        name,
        source,
        exports: lines.collect(),
    }
}

/// # Safety
/// `copy` must write exactly `len` bytes of UTF-8 to its argument.
unsafe fn read(len: usize, copy: unsafe extern "C" fn(*mut u8)) -> String {
    let mut bytes = Vec::with_capacity(len);
    unsafe {
        copy(bytes.as_mut_ptr());
        bytes.set_len(len);
    }
    // The compiler only stores text it read as UTF-8.
    String::from_utf8(bytes).expect("the compiler stores UTF-8")
}

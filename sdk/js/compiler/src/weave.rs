//! Writes a script into the core module.
//!
//! The core imports `polyplug:js` `source_len`/`source_copy` and
//! `manifest_len`/`manifest_copy` (see `core/src/script.rs`). Each pair is
//! replaced by a constant and a `memory.init` from a passive data segment,
//! and every JavaScript export gets a wasm export `() -> i32` that calls
//! `__invoke(index)`. The `producers` section names JavaScript as the
//! source language.

use anyhow::{Context, Result, bail, ensure};
use walrus::{DataKind, FunctionBuilder, FunctionId, Module, ValType};

const IMPORT_MODULE: &str = "polyplug:js";
pub const INVOKE: &str = "__invoke";

/// Exports of the core that only its own machinery uses.
pub const INTERNAL_EXPORTS: [&str; 2] = [INVOKE, "wizer.initialize"];

/// `name` is the script's file name (for error messages), `exports` its
/// functions in wasm-export order.
pub fn weave(core: &[u8], name: &str, source: &str, exports: &[String]) -> Result<Module> {
    let mut module = Module::from_buffer(core).context("reading the core module")?;
    // The core's section says Rust; hosts show this one as the plugin's language.
    module.producers.clear();
    module.producers.add_language("JavaScript", "ES2023");
    module
        .producers
        .add_processed_by("polyplug-js", env!("CARGO_PKG_VERSION"));
    let manifest = std::iter::once(name)
        .chain(exports.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("\n");
    provide(&mut module, "source", source.as_bytes())?;
    provide(&mut module, "manifest", manifest.as_bytes())?;

    let invoke = module
        .exports
        .get_func(INVOKE)
        .context("the core has no `__invoke`: not a polyplug JS core")?;
    for (index, export) in exports.iter().enumerate() {
        ensure!(
            module.exports.iter().all(|e| e.name != *export),
            "export `{export}` clashes with an export of the core; rename it"
        );
        let index = i32::try_from(index)?;
        let mut function = FunctionBuilder::new(&mut module.types, &[], &[ValType::I32]);
        function.func_body().i32_const(index).call(invoke);
        let id = function.finish(vec![], &mut module.funcs);
        module.exports.add(export, id);
    }
    Ok(module)
}

/// Removes internal exports of the core: a host should only see the script's.
pub fn hide_internals(module: &mut Module, names: &[&str]) {
    let internal: Vec<_> = module
        .exports
        .iter()
        .filter(|e| names.contains(&e.name.as_str()))
        .map(|e| e.id())
        .collect();
    for id in internal {
        module.exports.delete(id);
    }
}

/// Replaces the imports `<what>_len` and `<what>_copy` with functions that
/// give out `bytes`.
fn provide(module: &mut Module, what: &str, bytes: &[u8]) -> Result<()> {
    let len = i32::try_from(bytes.len()).with_context(|| format!("the {what} is too large"))?;
    let memory = match module.memories.iter().next() {
        Some(memory) => memory.id(),
        None => bail!("the core has no memory"),
    };
    let data = module.data.add(DataKind::Passive, bytes.to_vec());

    let len_fn = imported(module, &format!("{what}_len"))?;
    module.replace_imported_func(len_fn, |(body, _)| {
        body.i32_const(len);
    })?;
    let copy_fn = imported(module, &format!("{what}_copy"))?;
    module.replace_imported_func(copy_fn, |(body, args)| {
        // memory.init(dst, 0, len). Not dropped: a pre-initialised module
        // has already copied it, a lazy one copies it once.
        body.local_get(args[0])
            .i32_const(0)
            .i32_const(len)
            .memory_init(memory, data);
    })?;
    Ok(())
}

fn imported(module: &Module, name: &str) -> Result<FunctionId> {
    module
        .imports
        .get_func(IMPORT_MODULE, name)
        .with_context(|| {
            format!("the core does not import `{IMPORT_MODULE}` `{name}`: not a polyplug JS core")
        })
}

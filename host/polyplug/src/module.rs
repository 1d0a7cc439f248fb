//! What loading reads off a module without running it: its callable
//! exports, the language its producers section names, its initial memory,
//! its imports, and whether its tables could grow without bound.

use std::collections::BTreeSet;

/// What loading reads off a module without running it.
pub(crate) struct ModuleFacts {
    /// Exported functions with the Extism signature: no parameters, and no
    /// result or one `i32`; names starting with `_` are the toolchain's.
    pub functions: BTreeSet<String>,
    /// The source language its `producers` section names, when it has one.
    pub language: Option<String>,
    /// The largest initial size of its linear memories, in bytes.
    pub initial_memory: u64,
    /// Its first WASI import (`module::name`), if it has any.
    pub wasi_import: Option<String>,
    /// Whether it imports `polyplug_kv` (key-value state).
    pub kv_import: bool,
}

pub(crate) fn inspect(binary: &[u8]) -> Result<ModuleFacts, String> {
    use wasmparser::{ExternalKind, KnownCustom, Operator, Parser, Payload, TypeRef};

    let mut signatures = Vec::new(); // type index -> callable?
    let mut functions = Vec::new(); // function index -> type index
    let mut exports = BTreeSet::new();
    let mut language = None;
    let mut tables = Vec::new(); // table index -> (initial, maximum)
    let mut grown = BTreeSet::new(); // tables that `table.grow` names
    let mut initial_memory: u64 = 0;
    let mut wasi_import = None;
    let mut kv_import = false;
    for payload in Parser::new(0).parse_all(binary) {
        match payload.map_err(|e| e.to_string())? {
            Payload::CustomSection(reader) => {
                if let KnownCustom::Producers(producers) = reader.as_known() {
                    language = language.or_else(|| producers_language(producers));
                }
            }
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    let ty = ty.map_err(|e| e.to_string())?;
                    let results = ty.results();
                    signatures.push(
                        ty.params().is_empty()
                            && (results.is_empty()
                                || results == [wasmparser::ValType::I32].as_slice()),
                    );
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(|e| e.to_string())?;
                    if wasi_import.is_none() && import.module.starts_with("wasi") {
                        wasi_import = Some(format!("{}::{}", import.module, import.name));
                    }
                    kv_import |= import.module == crate::runtime::kv::USER
                        && import.name == crate::runtime::kv::FUNCTION;
                    match import.ty {
                        TypeRef::Func(ty) => functions.push(ty),
                        TypeRef::Table(ty) => tables.push((ty.initial, ty.maximum)),
                        _ => {}
                    }
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    let memory = memory.map_err(|e| e.to_string())?;
                    let page = 1u64 << memory.page_size_log2.unwrap_or(16);
                    initial_memory = initial_memory.max(memory.initial.saturating_mul(page));
                }
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    let ty = table.map_err(|e| e.to_string())?.ty;
                    tables.push((ty.initial, ty.maximum));
                }
            }
            // `table.grow` is 0xFC 0x0F; only a body holding those bytes
            // (a few, by chance, in a large module) is decoded.
            Payload::CodeSectionEntry(body)
                if body.as_bytes().windows(2).any(|pair| pair == [0xFC, 0x0F]) =>
            {
                let mut operators = body.get_operators_reader().map_err(|e| e.to_string())?;
                while !operators.eof() {
                    if let Operator::TableGrow { table } =
                        operators.read().map_err(|e| e.to_string())?
                    {
                        grown.insert(table);
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    functions.push(ty.map_err(|e| e.to_string())?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(|e| e.to_string())?;
                    let callable = export.kind == ExternalKind::Func
                        && functions
                            .get(export.index as usize)
                            .and_then(|ty| signatures.get(*ty as usize))
                            .copied()
                            .unwrap_or(false);
                    if callable && !export.name.starts_with('_') {
                        exports.insert(export.name.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    check_tables(&tables, &grown)?;
    Ok(ModuleFacts {
        functions: exports,
        language,
        initial_memory,
        wasi_import,
        kv_import,
    })
}

/// The most entries a module's tables may reach, all tables together:
/// 8 MiB of host memory at 8 bytes an entry.
pub(crate) const MAX_TABLE_ENTRIES: u64 = 1 << 20;

/// Refuses tables that could outgrow [`MAX_TABLE_ENTRIES`]. Extism's memory
/// limit counts linear memory only, and lets a table without a declared
/// maximum grow until the host's allocation fails, so a table may only
/// grow (`table.grow`) when it declares a maximum, and the sizes a module
/// can reach (a grown table's maximum, any other's initial size) are
/// capped.
fn check_tables(tables: &[(u64, Option<u64>)], grown: &BTreeSet<u32>) -> Result<(), String> {
    let mut total: u64 = 0;
    for (index, &(initial, maximum)) in tables.iter().enumerate() {
        let most = if grown.contains(&(index as u32)) {
            maximum.ok_or_else(|| {
                format!(
                    "table {index} has no maximum and the code grows it (`table.grow`); \
                     polyplug refuses tables that can grow without bound, since the memory \
                     limit does not count them: declare a maximum"
                )
            })?
        } else {
            initial
        };
        total = total.saturating_add(most);
    }
    if total > MAX_TABLE_ENTRIES {
        return Err(format!(
            "its tables can reach {total} entries; polyplug allows {MAX_TABLE_ENTRIES} \
             (the memory limit does not count tables)"
        ));
    }
    Ok(())
}

/// The first `language` a `producers` section names; a malformed section,
/// or a name longer than a language's, is ignored, since the language is
/// only shown, never acted on.
fn producers_language(producers: wasmparser::ProducersSectionReader<'_>) -> Option<String> {
    producers
        .into_iter()
        .flatten()
        .find(|field| field.name == "language")
        .and_then(|field| field.values.into_iter().flatten().next())
        .filter(|value| value.name.len() <= 64)
        .map(|value| value.name.to_string())
}

/// The sha256 of a binary module, lowercase hex: what a config pins and a
/// signature names.
pub(crate) fn sha256(binary: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(binary))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

//! The Extism bindings: one object of plain functions that only the
//! prelude sees (it wraps them into `Host`, `Config`, `Var`, `Http`, `Kv`
//! and `console`). Bytes cross as `Uint8Array`; text crosses as UTF-8, so output
//! is always UTF-8 whatever QuickJS stores internally.

use std::collections::BTreeMap;

use extism_pdk::{HttpRequest, LogLevel, Memory};
use javy::quickjs::function::Opt;
use javy::quickjs::{ArrayBuffer, Ctx, Exception, Function, Object, Result, TypedArray, Value};

pub fn bindings<'js>(ctx: &Ctx<'js>) -> Result<Object<'js>> {
    let native = Object::new(ctx.clone())?;
    native.set("inputBytes", Function::new(ctx.clone(), input_bytes)?)?;
    native.set("inputString", Function::new(ctx.clone(), input_string)?)?;
    native.set("output", Function::new(ctx.clone(), output)?)?;
    native.set("configGet", Function::new(ctx.clone(), config_get)?)?;
    native.set("varGet", Function::new(ctx.clone(), var_get)?)?;
    native.set("varSet", Function::new(ctx.clone(), var_set)?)?;
    native.set("varRemove", Function::new(ctx.clone(), var_remove)?)?;
    native.set("httpRequest", Function::new(ctx.clone(), http_request)?)?;
    native.set("kv", Function::new(ctx.clone(), kv)?)?;
    native.set("log", Function::new(ctx.clone(), log)?)?;
    native.set("nestsDeeper", Function::new(ctx.clone(), nests_deeper)?)?;
    native.set("random", Function::new(ctx.clone(), random)?)?;
    Ok(native)
}

fn input_bytes(ctx: Ctx<'_>) -> Result<TypedArray<'_, u8>> {
    TypedArray::new(ctx, extism_pdk::input_bytes())
}

fn input_string(ctx: Ctx<'_>) -> Result<String> {
    String::from_utf8(extism_pdk::input_bytes())
        .map_err(|_| Exception::throw_type(&ctx, "the input is not UTF-8"))
}

/// `data`: a string (written as UTF-8) or bytes.
fn output<'js>(ctx: Ctx<'js>, data: Value<'js>) -> Result<()> {
    let bytes = bytes_of(&ctx, data)?;
    extism_pdk::output(bytes).map_err(|e| host_error(&ctx, e))
}

fn config_get(ctx: Ctx<'_>, key: String) -> Result<Option<String>> {
    extism_pdk::config::get(key).map_err(|e| host_error(&ctx, e))
}

fn var_get(ctx: Ctx<'_>, key: String) -> Result<Option<TypedArray<'_, u8>>> {
    match extism_pdk::var::get::<Vec<u8>>(key) {
        Ok(Some(bytes)) => TypedArray::new(ctx, bytes).map(Some),
        Ok(None) => Ok(None),
        Err(e) => Err(host_error(&ctx, e)),
    }
}

fn var_set<'js>(ctx: Ctx<'js>, key: String, value: Value<'js>) -> Result<()> {
    let bytes = bytes_of(&ctx, value)?;
    extism_pdk::var::set(key, bytes).map_err(|e| host_error(&ctx, e))
}

fn var_remove(ctx: Ctx<'_>, key: String) -> Result<()> {
    extism_pdk::var::remove(key).map_err(|e| host_error(&ctx, e))
}

/// Goes through Extism's `http_request`, so the plugin's `allowed_hosts`
/// applies (a refused host fails the call in the host). Returns
/// `{status, headers, body}` for any status.
fn http_request<'js>(
    ctx: Ctx<'js>,
    url: String,
    method: String,
    headers: Object<'js>,
    body: Opt<Value<'js>>,
) -> Result<Object<'js>> {
    let headers = headers
        .props::<String, String>()
        .collect::<Result<BTreeMap<_, _>>>()?;
    let request = HttpRequest {
        url,
        headers,
        method: Some(method),
    };
    let body = body
        .0
        .filter(|b| !b.is_undefined())
        .map(|b| bytes_of(&ctx, b))
        .transpose()?;
    let response = extism_pdk::http::request(&request, body).map_err(|e| host_error(&ctx, e))?;

    let result = Object::new(ctx.clone())?;
    result.set("status", response.status_code())?;
    let response_headers = Object::new(ctx.clone())?;
    for (name, value) in response.headers() {
        response_headers.set(name.as_str(), value.as_str())?;
    }
    result.set("headers", response_headers)?;
    result.set("body", TypedArray::new(ctx.clone(), response.body())?)?;
    Ok(result)
}

#[link(wasm_import_module = "extism:host/user")]
unsafe extern "C" {
    /// Key-value state (docs/contract.md, section 8.3): the offset of a
    /// block holding a JSON request in, a new block holding the answer out.
    fn polyplug_kv(request: u64) -> u64;
}

/// Sends one key-value request (JSON text the prelude built) and returns
/// the host's answer text; the prelude reads it. Both blocks are freed
/// here.
fn kv(ctx: Ctx<'_>, request: String) -> Result<String> {
    let memory = Memory::from_bytes(request).map_err(|e| host_error(&ctx, e))?;
    // SAFETY: the host reads the live block at `memory.offset()` and
    // returns the offset of a new block (or traps on a bad offset).
    let answer = unsafe { polyplug_kv(memory.offset()) };
    memory.free();
    let answer = Memory::find(answer)
        .ok_or_else(|| Exception::throw_internal(&ctx, "polyplug_kv: the host gave no answer"))?;
    let bytes = answer.to_vec();
    answer.free();
    String::from_utf8(bytes)
        .map_err(|_| Exception::throw_internal(&ctx, "polyplug_kv: the answer is not UTF-8"))
}

fn log(level: String, message: String) {
    let level = match level.as_str() {
        "debug" => LogLevel::Debug,
        "warn" => LogLevel::Warn,
        "error" => LogLevel::Error,
        _ => LogLevel::Info,
    };
    if let Ok(memory) = Memory::from_bytes(message) {
        memory.log(level);
        memory.free();
    }
}

/// Whether `json` nests arrays and objects deeper than `limit` levels. A
/// scan, not a parse: brackets inside strings do not count. QuickJS parses
/// JSON recursively with no stack check on WASI, so the prelude asks this
/// first: a deep document must fail as an error, not trap the instance.
fn nests_deeper(json: String, limit: u32) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0u32, false, false);
    for byte in json.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// A string as UTF-8, or the bytes of a `Uint8Array` or `ArrayBuffer`.
fn bytes_of<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> Result<Vec<u8>> {
    if let Some(text) = value.as_string() {
        return text.to_string().map(String::into_bytes).map_err(|_| {
            Exception::throw_type(
                ctx,
                "the string holds a lone surrogate: it has no UTF-8 form",
            )
        });
    }
    let bytes = if let Ok(array) = TypedArray::<u8>::from_value(value.clone()) {
        array.as_bytes().map(<[u8]>::to_vec)
    } else if let Some(buffer) = ArrayBuffer::from_value(value) {
        buffer.as_bytes().map(<[u8]>::to_vec)
    } else {
        return Err(Exception::throw_type(
            ctx,
            "expected a string, a Uint8Array or an ArrayBuffer",
        ));
    };
    bytes.ok_or_else(|| Exception::throw_type(ctx, "the buffer is detached"))
}

/// `Math.random()`: a double in [0, 1) from 53 bits of the host's random
/// source, drawn at each call. QuickJS's own generator is seeded once per
/// context, and a pre-initialised plugin's context is made at build time, so
/// every instance of a build would draw the same numbers.
fn random(ctx: Ctx<'_>) -> Result<f64> {
    let mut bytes = [0u8; 8];
    // SAFETY: the buffer is valid for writes of its length.
    let errno = unsafe { wasi::random_get(bytes.as_mut_ptr(), bytes.len()) };
    if errno != 0 {
        return Err(Exception::throw_internal(
            &ctx,
            &format!("the host's random source failed (WASI errno {errno})"),
        ));
    }
    Ok((u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64)
}

mod wasi {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    unsafe extern "C" {
        pub fn random_get(buf: *mut u8, len: usize) -> i32;
    }
}

fn host_error(ctx: &Ctx<'_>, error: extism_pdk::Error) -> javy::quickjs::Error {
    Exception::throw_internal(ctx, &format!("extism: {error}"))
}

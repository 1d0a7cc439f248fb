//! Failures reported to the host as the contract's error object
//! `{"code": "...", "message": "..."}`.

use extism_pdk::{Memory, extism, json};
use javy::quickjs::{Ctx, Error, Value};

pub struct ErrorObject {
    pub code: String,
    pub message: String,
    /// Where a thrown `Error` came from; not part of the contract's object,
    /// shown when the script fails at build time.
    pub stack: Option<String>,
}

impl ErrorObject {
    pub fn internal(message: &str) -> ErrorObject {
        ErrorObject {
            code: "internal_error".into(),
            message: message.into(),
            stack: None,
        }
    }
}

/// Turns an error from QuickJS into the error object: a thrown value keeps
/// its `code` when that is a snake_case string (a `PluginError`), else the
/// code is `internal_error`; the message is its `message` property, or the
/// value itself as text.
pub fn from_js(ctx: &Ctx<'_>, error: Error) -> ErrorObject {
    if !error.is_exception() {
        return ErrorObject::internal(&error.to_string());
    }
    let thrown = ctx.catch();
    let property = |name: &str| {
        thrown
            .as_object()
            .and_then(|object| object.get::<_, Value>(name).ok())
            .filter(Value::is_string)
    };
    let code = property("code")
        .and_then(|code| javy::val_to_string(ctx, code).ok())
        .filter(|code| is_snake_case(code))
        .unwrap_or_else(|| "internal_error".into());
    let stack = property("stack").and_then(|stack| javy::val_to_string(ctx, stack).ok());
    let message = javy::val_to_string(ctx, property("message").unwrap_or(thrown))
        .unwrap_or_else(|_| "a value that cannot be shown was thrown".into());
    ErrorObject {
        code,
        message,
        stack,
    }
}

/// Sets the Extism error to `error` and returns the non-zero status that goes
/// with it.
pub fn report(error: &ErrorObject) -> i32 {
    let text = format!(
        r#"{{"code":{},"message":{}}}"#,
        json::to_string(&error.code).expect("strings serialize"),
        json::to_string(&error.message).expect("strings serialize"),
    );
    // Out of Extism memory, the host sees a failure without an error.
    if let Ok(memory) = Memory::from_bytes(text) {
        // SAFETY: the offset is a live Extism memory block.
        unsafe { extism::error_set(memory.offset()) }
    }
    1
}

fn is_snake_case(code: &str) -> bool {
    code.starts_with(|c: char| c.is_ascii_lowercase())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

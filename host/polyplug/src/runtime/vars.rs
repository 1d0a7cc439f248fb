//! `var_get` and `var_set`: Extism's per-instance vars, capped in bytes.
//! They live as long as the instance, which the host replaces after any
//! failure and every `CALLS_PER_INSTANCE` calls: a cache, not storage.

use wasmtime::{Caller, Linker};

use super::ENV;
use super::state::{CALL_FUEL, State, charge};

type Result<T> = wasmtime::Result<T>;

pub(crate) fn link(linker: &mut Linker<State>) -> Result<()> {
    linker.func_wrap(
        ENV,
        "var_get",
        |mut c: Caller<'_, State>, key: u64| -> Result<u64> {
            let length = c.data().kernel.length(key);
            charge(&mut c, CALL_FUEL, length)?;
            let state = c.data_mut();
            let name = String::from_utf8_lossy(&state.handle(key, "var key")?).into_owned();
            state.kernel.free(key);
            match state.vars.get(&name).cloned() {
                Some(value) => Ok(state.give(&value)?),
                None => Ok(0),
            }
        },
    )?;
    linker.func_wrap(ENV, "var_set", var_set)?;
    Ok(())
}

/// Sets a var, or removes it when the value is the null handle. Keys,
/// values and their bookkeeping count against `max_var_bytes`, as Extism
/// counts them.
fn var_set(mut c: Caller<'_, State>, key: u64, value: u64) -> Result<()> {
    let length = c.data().kernel.length(key) + c.data().kernel.length(value);
    charge(&mut c, CALL_FUEL, length)?;
    let state = c.data_mut();
    let name = String::from_utf8_lossy(&state.handle(key, "var key")?).into_owned();
    if value == 0 {
        state.vars.remove(&name);
        state.kernel.free(key);
        return Ok(());
    }
    let bytes = state.handle(value, "var value")?;
    let entry = |key: usize, value: usize| key + value + size_of::<String>() + size_of::<Vec<u8>>();
    let stored: usize = state
        .vars
        .iter()
        .filter(|(k, _)| **k != name)
        .map(|(k, v)| entry(k.len(), v.len()))
        .sum();
    if (stored + entry(name.len(), bytes.len())) as u64 > state.grants.max_var_bytes {
        return Err(wasmtime::Error::msg("Variable store is full"));
    }
    state.kernel.free(value);
    state.kernel.free(key);
    state.vars.insert(name, bytes);
    Ok(())
}

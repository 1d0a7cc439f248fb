//! `config_get`: the plugin's config values from the operator's config.

use wasmtime::{Caller, Linker};

use super::ENV;
use super::state::{CALL_FUEL, State, charge};

pub(crate) fn link(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    linker.func_wrap(
        ENV,
        "config_get",
        |mut c: Caller<'_, State>, key: u64| -> wasmtime::Result<u64> {
            let length = c.data().kernel.length(key);
            charge(&mut c, CALL_FUEL, length)?;
            let state = c.data_mut();
            let name = String::from_utf8_lossy(&state.handle(key, "config key")?).into_owned();
            state.kernel.free(key);
            let grants = state.grants.clone();
            match grants.config.get(&name) {
                Some(value) => Ok(state.give(value.as_bytes())?),
                None => Ok(0),
            }
        },
    )?;
    Ok(())
}

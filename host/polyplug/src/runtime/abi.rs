//! Extism's kernel functions (`extism:host/env`): blocks, loads and
//! stores, input, output and error, served from the host's [`Kernel`].
//!
//! These are the functions Extism implements in its wasm kernel; their
//! names, types and out-of-bounds behaviour follow Extism 1.x, so every
//! Extism PDK links against them unchanged.
//!
//! [`Kernel`]: super::kernel::Kernel

use wasmtime::{Caller, Linker};

use super::ENV;
use super::state::{BLOCK_FUEL, State, charge};
use super::stop::Stop;

type Result<T> = wasmtime::Result<T>;

pub(crate) fn link(linker: &mut Linker<State>) -> Result<()> {
    linker.func_wrap(
        ENV,
        "alloc",
        |mut c: Caller<'_, State>, len: u64| -> Result<u64> {
            charge(&mut c, BLOCK_FUEL, len)?;
            let budget = c.data().kernel_budget();
            c.data_mut()
                .kernel
                .alloc(len, budget)
                .map_err(|_| Stop::MemoryLimit.into())
        },
    )?;
    linker.func_wrap(
        ENV,
        "free",
        |mut c: Caller<'_, State>, offset: u64| -> Result<()> {
            charge(&mut c, BLOCK_FUEL, 0)?;
            c.data_mut().kernel.free(offset);
            Ok(())
        },
    )?;
    for name in ["length", "length_unsafe"] {
        linker.func_wrap(
            ENV,
            name,
            |mut c: Caller<'_, State>, offset: u64| -> Result<u64> {
                charge(&mut c, BLOCK_FUEL, 0)?;
                Ok(c.data().kernel.length(offset))
            },
        )?;
    }
    linker.func_wrap(ENV, "load_u8", |c: Caller<'_, State>, offset: u64| {
        u32::from(c.data().kernel.load_u8(offset))
    })?;
    linker.func_wrap(ENV, "load_u64", |c: Caller<'_, State>, offset: u64| {
        c.data().kernel.load_u64(offset)
    })?;
    linker.func_wrap(
        ENV,
        "store_u8",
        |mut c: Caller<'_, State>, offset: u64, value: u32| {
            c.data_mut().kernel.store_u8(offset, value as u8);
        },
    )?;
    linker.func_wrap(
        ENV,
        "store_u64",
        |mut c: Caller<'_, State>, offset: u64, value: u64| {
            c.data_mut().kernel.store_u64(offset, value);
        },
    )?;
    linker.func_wrap(ENV, "input_length", |c: Caller<'_, State>| {
        c.data().kernel.input_length()
    })?;
    linker.func_wrap(ENV, "input_offset", |c: Caller<'_, State>| {
        c.data().kernel.input_offset()
    })?;
    linker.func_wrap(ENV, "input_load_u8", |c: Caller<'_, State>, index: u64| {
        u32::from(c.data().kernel.input_load_u8(index))
    })?;
    linker.func_wrap(ENV, "input_load_u64", |c: Caller<'_, State>, index: u64| {
        c.data().kernel.input_load_u64(index)
    })?;
    linker.func_wrap(
        ENV,
        "output_set",
        |mut c: Caller<'_, State>, offset: u64, len: u64| {
            c.data_mut().kernel.set_output(offset, len);
        },
    )?;
    linker.func_wrap(ENV, "output_length", |c: Caller<'_, State>| {
        c.data().kernel.output_length()
    })?;
    linker.func_wrap(ENV, "output_offset", |c: Caller<'_, State>| {
        c.data().kernel.output_offset()
    })?;
    linker.func_wrap(ENV, "error_set", |mut c: Caller<'_, State>, offset: u64| {
        c.data_mut().kernel.set_error(offset);
    })?;
    linker.func_wrap(ENV, "error_get", |c: Caller<'_, State>| {
        c.data().kernel.error_offset()
    })?;
    linker.func_wrap(ENV, "reset", |mut c: Caller<'_, State>| {
        c.data_mut().kernel.reset();
    })?;
    linker.func_wrap(ENV, "memory_bytes", |c: Caller<'_, State>| {
        c.data().kernel.size()
    })?;
    Ok(())
}

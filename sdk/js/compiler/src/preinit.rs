//! Pre-initialisation: runs the core's `wizer.initialize` (create the
//! QuickJS runtime, install the SDK, evaluate the script) at build time and
//! snapshots the memory, so a plugin's first call starts with the script
//! already evaluated.
//!
//! Wizer (`wasmtime-wizer`, without wasmtime) instruments the module and
//! rewrites it from the snapshot; the pure-Rust interpreter wasmi runs the
//! initializer in between. At build time there is no Extism host: the few
//! WASI functions the runtime needs to start are provided here, and any
//! Extism function the script's top level calls fails the build.
//!
//! Nothing of the build machine reaches the snapshot: the clock reads 0
//! (1970-01-01) and random draws are a fixed sequence, so a script always
//! builds to the same bytes and anyone can check a plugin against its source.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use anyhow::{Result, anyhow, bail};
use wasmi::{Caller, Engine, Extern, ExternType, Instance, Linker, Module, Store, Val};
use wasmtime_wizer::{InstanceState, SnapshotVal, ValType, Wizer};

const INIT_FUNC: &str = "wizer.initialize";
const WASI: &str = "wasi_snapshot_preview1";
const ERRNO_SUCCESS: i32 = 0;
const ERRNO_NOSYS: i32 = 52;
/// The WASI functions `build_time_imports` implements.
const WASI_PROVIDED: [&str; 6] = [
    "fd_write",
    "environ_sizes_get",
    "environ_get",
    "random_get",
    "clock_time_get",
    "proc_exit",
];

/// What the initializer leaves in the store.
#[derive(Default)]
struct BuildTime {
    /// What it wrote to stdout and stderr: the core prints the script's
    /// error there before it traps.
    printed: Vec<u8>,
    /// How many random bytes it has drawn.
    drawn: u64,
}

pub fn preinitialize(wasm: &[u8], script: &str) -> Result<Vec<u8>> {
    let mut wizer = Wizer::new();
    wizer.init_func(INIT_FUNC);
    let (context, instrumented) = wizer.instrument(wasm).map_err(|e| anyhow!("{e}"))?;

    let engine = Engine::default();
    let module = Module::new(&engine, &instrumented)?;
    let mut store = Store::new(&engine, BuildTime::default());
    let linker = build_time_imports(&engine, &module)?;
    let instance = linker.instantiate_and_start(&mut store, &module)?;
    let init = instance.get_typed_func::<(), ()>(&store, INIT_FUNC)?;
    if let Err(trap) = init.call(&mut store, ()) {
        let printed = String::from_utf8_lossy(&store.data().printed)
            .trim()
            .to_owned();
        if printed.is_empty() {
            bail!("{script}: evaluating the script failed: {trap}");
        }
        bail!("{script}: evaluating the script failed: {printed}");
    }

    let mut state = Evaluated { store, instance };
    block_on(wizer.snapshot(&context, &mut state)).map_err(|e| anyhow!("{e}"))
}

/// Every import of `module`: WASI start-up needs, and a failure for the rest.
fn build_time_imports(engine: &Engine, module: &Module) -> Result<Linker<BuildTime>> {
    let mut linker = Linker::new(engine);
    linker.func_wrap(WASI, "fd_write", fd_write)?;
    linker.func_wrap(
        WASI,
        "environ_sizes_get",
        |mut caller: Caller<'_, BuildTime>, count: i32, size: i32| {
            write_u32(&mut caller, count, 0);
            write_u32(&mut caller, size, 0);
            ERRNO_SUCCESS
        },
    )?;
    linker.func_wrap(WASI, "environ_get", |_: i32, _: i32| ERRNO_SUCCESS)?;
    linker.func_wrap(WASI, "random_get", random_get)?;
    linker.func_wrap(
        WASI,
        "clock_time_get",
        |mut caller: Caller<'_, BuildTime>, _: i32, _: i64, time: i32| {
            write_bytes(&mut caller, time, &0u64.to_le_bytes());
            ERRNO_SUCCESS
        },
    )?;
    linker.func_wrap(WASI, "proc_exit", |code: i32| -> Result<(), wasmi::Error> {
        Err(wasmi::Error::i32_exit(code))
    })?;

    for import in module.imports() {
        let ExternType::Func(ty) = import.ty() else {
            bail!(
                "the core imports `{}::{}`, which is not a function",
                import.module(),
                import.name()
            );
        };
        let (from, name) = (import.module().to_owned(), import.name().to_owned());
        if from == WASI && WASI_PROVIDED.contains(&name.as_str()) {
            continue;
        }
        let ty = ty.clone();
        if from == WASI {
            // Files, sockets and the like: "not supported" is an answer.
            linker.func_new(&from, &name, ty, |_, _, results| {
                results[0] = Val::I32(ERRNO_NOSYS);
                Ok(())
            })?;
        } else {
            let message = format!(
                "the script's top level called the host function `{from}::{name}`, which only \
                 exists during a call (Host, Config, Var, Http, Kv and console work inside exported functions)"
            );
            linker.func_new(&from, &name, ty, move |_, _, _| {
                Err(wasmi::Error::new(message.clone()))
            })?;
        }
    }
    Ok(linker)
}

fn fd_write(
    mut caller: Caller<'_, BuildTime>,
    _fd: i32,
    iovs: i32,
    iovs_len: i32,
    written: i32,
) -> i32 {
    let memory = memory(&caller);
    let mut total = 0u32;
    for i in 0..iovs_len as usize {
        let data = memory.data(&caller);
        let at = iovs as usize + i * 8;
        let ptr = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        let len = u32::from_le_bytes(data[at + 4..at + 8].try_into().unwrap()) as usize;
        let bytes = data[ptr..ptr + len].to_vec();
        caller.data_mut().printed.extend_from_slice(&bytes);
        total += len as u32;
    }
    write_u32(&mut caller, written, total);
    ERRNO_SUCCESS
}

/// A fixed sequence: a snapshot freezes whatever the top level drew, so
/// nothing drawn at build time is secret whatever its source. (At run time
/// the SDK's `Math.random` draws from the host.)
fn random_get(mut caller: Caller<'_, BuildTime>, buf: i32, len: i32) -> i32 {
    let from = caller.data().drawn;
    let bytes: Vec<u8> = (from..from + len as u32 as u64)
        .map(|i| splitmix64(i / 8).to_le_bytes()[(i % 8) as usize])
        .collect();
    caller.data_mut().drawn += bytes.len() as u64;
    write_bytes(&mut caller, buf, &bytes);
    ERRNO_SUCCESS
}

/// The `n`-th output of SplitMix64 seeded with 0.
fn splitmix64(n: u64) -> u64 {
    let mut z = (n + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn memory(caller: &Caller<'_, BuildTime>) -> wasmi::Memory {
    caller
        .get_export("memory")
        .and_then(Extern::into_memory)
        .expect("the core exports its memory")
}

fn write_u32(caller: &mut Caller<'_, BuildTime>, at: i32, value: u32) {
    write_bytes(caller, at, &value.to_le_bytes());
}

fn write_bytes(caller: &mut Caller<'_, BuildTime>, at: i32, bytes: &[u8]) {
    let memory = memory(caller);
    let at = at as u32 as usize;
    memory.data_mut(caller)[at..at + bytes.len()].copy_from_slice(bytes);
}

/// The instance after `wizer.initialize`, as Wizer reads it.
struct Evaluated {
    store: Store<BuildTime>,
    instance: Instance,
}

impl InstanceState for Evaluated {
    fn global_get(&mut self, name: &str, _: ValType) -> impl Future<Output = SnapshotVal> + Send {
        let global = self
            .instance
            .get_global(&self.store, name)
            .expect("Wizer exports every global");
        let value = match global.get(&self.store) {
            Val::I32(v) => SnapshotVal::I32(v),
            Val::I64(v) => SnapshotVal::I64(v),
            Val::F32(v) => SnapshotVal::F32(v.to_bits()),
            Val::F64(v) => SnapshotVal::F64(v.to_bits()),
            Val::V128(v) => SnapshotVal::V128(v.as_u128()),
            other => panic!("global `{name}` holds {other:?}, which Wizer does not snapshot"),
        };
        std::future::ready(value)
    }

    fn memory_contents(
        &mut self,
        name: &str,
        contents: impl FnOnce(&[u8]) + Send,
    ) -> impl Future<Output = ()> + Send {
        let memory = self
            .instance
            .get_memory(&self.store, name)
            .expect("Wizer exports every memory");
        contents(memory.data(&self.store));
        std::future::ready(())
    }
}

/// Wizer's snapshot is `async` for runtimes that need it; here every step is
/// ready at once.
fn block_on<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("the snapshot steps never wait"),
    }
}

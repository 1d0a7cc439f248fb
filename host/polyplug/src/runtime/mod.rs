//! Extism's plugin ABI, run on wasmtime by polyplug itself.
//!
//! Plugins are ordinary Extism plugins: they import `extism:host/env` (and
//! WASI when granted) and export functions that take no arguments and
//! return an `i32`. polyplug links its own implementation of every function
//! in that namespace, one capability per file:
//!
//! | file | functions |
//! |---|---|
//! | `abi.rs` over `kernel.rs` | `alloc`, `free`, `length`, `load_*`, `store_*`, `input_*`, `output_*`, `error_*`, `reset` |
//! | `config.rs` | `config_get` |
//! | `vars.rs` | `var_get`, `var_set` |
//! | `http.rs` | `http_request`, `http_status_code`, `http_headers` |
//! | `log.rs` | `log_*`, `get_log_level` |
//! | `kv.rs` | `polyplug_kv`, in `extism:host/user` (key-value state) |
//!
//! [`Compiled`] is one plugin generation's engine, compiled module and
//! linker; [`Instance`] one store and instance of it, which runs one call
//! at a time. Calls are async: the epoch callback set here lets a call run
//! for one time slice, then makes it yield at every tick (so the executor
//! can move it elsewhere, see `lane.rs`), and stops it at its deadline.

mod abi;
mod config;
pub(crate) mod engine;
mod http;
pub(crate) mod kernel;
pub(crate) mod kv;
pub(crate) mod log;
pub(crate) mod state;
pub(crate) mod stop;
mod vars;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Engine, Func, InstancePre, Linker, Module, Store, UpdateDeadline, Val};
use wasmtime_wasi::p1::WasiP1Ctx;

use crate::config::{AllowedPath, Limits};
use state::{Grants, State};
use stop::Stop;

/// The namespace of Extism's functions.
pub(crate) const ENV: &str = "extism:host/env";

/// How long a call runs on the thread that started it before it yields,
/// so that a long call can be moved off that thread (`lane.rs`).
pub(crate) const SLICE: Duration = Duration::from_millis(1);

/// Why a module could not be made ready to instantiate.
pub(crate) enum Setup {
    /// The engine or the host functions could not be set up.
    Engine(wasmtime::Error),
    /// wasmtime cannot compile the module.
    Compile(wasmtime::Error),
    /// The module imports something polyplug does not provide, or with
    /// another type.
    Link(wasmtime::Error),
}

/// One plugin generation, compiled and linked, ready to instantiate.
pub(crate) struct Compiled {
    engine: Engine,
    pre: InstancePre<State>,
    grants: Arc<Grants>,
    /// Directories a WASI instance sees; `None` without WASI.
    wasi: Option<Vec<AllowedPath>>,
    limits: Limits,
    /// Exports callable with Extism's convention, and whether each
    /// returns an `i32`.
    functions: Vec<(String, bool)>,
}

impl Compiled {
    /// Compiles `binary` (through the compile cache) and links it against
    /// polyplug's host functions; fails on any import polyplug does not
    /// provide.
    /// What every instance of it may reach.
    pub fn grants(&self) -> &Grants {
        &self.grants
    }

    pub fn new(
        binary: &[u8],
        grants: Grants,
        wasi: Option<Vec<AllowedPath>>,
        limits: Limits,
        functions: impl IntoIterator<Item = String>,
    ) -> Result<Self, Setup> {
        let engine = engine::engine(limits.memory, limits.instances).map_err(Setup::Engine)?;
        let module = Module::new(&engine, binary).map_err(Setup::Compile)?;
        let mut linker = Linker::new(&engine);
        let linked = (|| {
            abi::link(&mut linker)?;
            config::link(&mut linker)?;
            vars::link(&mut linker)?;
            http::link(&mut linker)?;
            log::link(&mut linker)?;
            kv::link(&mut linker)?;
            if wasi.is_some() {
                wasmtime_wasi::p1::add_to_linker_async(&mut linker, |state: &mut State| {
                    state
                        .wasi
                        .as_mut()
                        .expect("WASI is linked only for WASI instances")
                })?;
            }
            wasmtime::Result::Ok(())
        })();
        linked.map_err(Setup::Engine)?;
        let pre = linker.instantiate_pre(&module).map_err(Setup::Link)?;
        let functions = functions
            .into_iter()
            .map(|name| {
                let returns = module
                    .get_export(&name)
                    .and_then(|e| e.func().map(|f| f.results().len() == 1))
                    .unwrap_or(false);
                (name, returns)
            })
            .collect();
        Ok(Self {
            engine,
            pre,
            grants: Arc::new(grants),
            wasi,
            limits,
            functions,
        })
    }

    /// A new instance, its start-up code run (the start function, then
    /// `__wasm_call_ctors` or `_initialize`, as Extism runs them) under
    /// `init_fuel` and the call timeout.
    pub async fn instantiate(&self) -> wasmtime::Result<Instance> {
        let wasi = self.wasi.as_deref().map(wasi_context).transpose()?;
        let mut store = Store::new(&self.engine, State::new(self.grants.clone(), wasi));
        store.limiter(|state| state);
        store.epoch_deadline_callback(|store| {
            let state = store.data();
            let now = Instant::now();
            if now >= state.deadline {
                return Err(Stop::Timeout.into());
            }
            Ok(if now >= state.slice_end {
                UpdateDeadline::Yield(1)
            } else {
                UpdateDeadline::Continue(1)
            })
        });
        store.set_fuel(self.limits.init_fuel)?;
        arm(&mut store, self.limits.timeout);
        let instance = self.pre.instantiate_async(&mut store).await?;
        let init = ["__wasm_call_ctors", "_initialize"]
            .into_iter()
            .find_map(|name| instance.get_typed_func::<(), ()>(&mut store, name).ok());
        if let Some(init) = init {
            init.call_async(&mut store, ()).await?;
        }
        let functions = self
            .functions
            .iter()
            .filter_map(|(name, returns)| {
                let func = instance.get_func(&mut store, name)?;
                Some((name.clone(), (func, *returns)))
            })
            .collect();
        Ok(Instance {
            store,
            functions,
            served: 0,
        })
    }
}

/// Sets the deadline and time slice of what the store runs next.
fn arm(store: &mut Store<State>, timeout: Duration) {
    let now = Instant::now();
    let state = store.data_mut();
    state.deadline = now + timeout;
    state.slice_end = now + SLICE;
    store.set_epoch_deadline(1);
}

/// A WASI context that grants nothing beyond `paths`: no environment, no
/// arguments, no inherited stdio.
fn wasi_context(paths: &[AllowedPath]) -> wasmtime::Result<WasiP1Ctx> {
    use wasmtime_wasi::FsPerms;
    let mut builder = wasmtime_wasi::WasiCtxBuilder::new();
    for path in paths {
        let perms = if path.writable {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        };
        builder.preopened_dir(&path.host, &path.guest, perms)?;
    }
    Ok(builder.build_p1())
}

/// One instance: a store and the functions it exports.
pub(crate) struct Instance {
    store: Store<State>,
    functions: HashMap<String, (Func, bool)>,
    /// Calls this instance has served.
    pub served: u32,
}

/// How a call that did not produce output ended, before it is classified
/// (`failure.rs`).
pub(crate) struct Failed {
    /// The trap or host error that ended it, if it did not return.
    pub trap: Option<wasmtime::Error>,
    /// The error message the plugin set (`error_set`), if any.
    pub guest_error: Option<String>,
    /// What it returned, when it returned.
    pub returned: i32,
    /// An output range that left the kernel's memory.
    pub lost_output: Option<(u64, u64)>,
}

impl Instance {
    /// Linear and kernel memory the instance holds now; right after a call,
    /// the most it held during that call (`State::memory`).
    pub fn memory(&self) -> u64 {
        self.store.data().memory()
    }

    /// Runs `function` with `input`. Returns the output, and the fuel used.
    pub async fn call(
        &mut self,
        function: &str,
        input: &[u8],
        limits: &Limits,
    ) -> (Result<Vec<u8>, Failed>, u64) {
        self.served += 1;
        let failed = |trap| Failed {
            trap: Some(trap),
            guest_error: None,
            returned: 0,
            lost_output: None,
        };
        let Some(&(func, returns)) = self.functions.get(function) else {
            let missing = wasmtime::Error::msg(format!("Function not found: {function}"));
            return (Err(failed(missing)), 0);
        };
        let store = &mut self.store;
        let state = store.data_mut();
        state.kernel.reset();
        state.kv_operations = 0;
        let budget = state.kernel_budget();
        if state.kernel.set_input(input, budget).is_err() {
            return (Err(failed(Stop::MemoryLimit.into())), 0);
        }
        if let Err(err) = store.set_fuel(limits.fuel) {
            return (Err(failed(err)), 0);
        }
        arm(store, limits.timeout);
        let mut results = [Val::I32(0)];
        let results = if returns {
            &mut results[..]
        } else {
            &mut results[..0]
        };
        let run = func.call_async(&mut *store, &[], results).await;
        let fuel = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        let returned = results.first().and_then(Val::i32).unwrap_or(0);
        let kernel = &store.data().kernel;
        let guest_error = kernel.error();
        let exited_cleanly = match &run {
            Ok(()) => true,
            Err(err) => matches!(
                err.downcast_ref::<wasmtime_wasi::I32Exit>(),
                Some(wasmtime_wasi::I32Exit(0))
            ),
        };
        if exited_cleanly && guest_error.is_none() && returned == 0 {
            return match kernel.output() {
                Ok(output) => (Ok(output.to_vec()), fuel),
                Err(range) => (
                    Err(Failed {
                        trap: None,
                        guest_error: None,
                        returned: 0,
                        lost_output: Some(range),
                    }),
                    fuel,
                ),
            };
        }
        let failure = Failed {
            trap: run.err().filter(|_| !exited_cleanly),
            guest_error,
            returned,
            lost_output: None,
        };
        (Err(failure), fuel)
    }
}

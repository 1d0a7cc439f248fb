//! The runtime under every polyplug JavaScript plugin.
//!
//! This module is compiled once; `polyplug-js` (in `sdk/js/compiler`) turns
//! it into a plugin by writing a script into it and adding one wasm export
//! per JavaScript export. Inside:
//!
//! - [`script`]: where the script and its export names come from (imports
//!   that the compiler replaces with copies out of data segments);
//! - [`native`]: the Extism bindings, exposed to the prelude only;
//! - `prelude.js`: the JavaScript SDK scripts see (`Host`, `Config`, `Var`,
//!   `Http`, `Kv`, `Json`, `Shape`, `PluginError`, `console`), see
//!   `sdk/js/polyplug.d.ts`;
//! - [`error`]: a thrown value turned into the contract's error object.
//!
//! Entry points: `__invoke(index)`, which the compiler's exports call, and
//! `wizer.initialize`, which evaluates the script ahead of time when the
//! plugin is pre-initialised.

mod error;
mod native;
mod script;

use std::cell::OnceCell;

use javy::Runtime;
use javy::quickjs::{Ctx, Function, Module, Object, Persistent, Promise};

const GC_THRESHOLD: usize = 256 * 1024;

/// What one evaluation of the script leaves behind for calls.
struct Plugin {
    runtime: Runtime,
    /// The prelude's `invoke(name)`: runs an export, writes its result.
    invoke: Persistent<Function<'static>>,
    exports: Vec<String>,
}

thread_local! {
    // wasm32-wasip1 has a single thread: this is one global, and it is what a
    // pre-initialisation snapshot captures.
    static PLUGIN: OnceCell<Plugin> = const { OnceCell::new() };
}

/// Runs the script's export number `index` (in the compiler's order).
/// Returns 0 on success; otherwise the Extism error holds the contract's
/// `{"code","message"}` object.
#[unsafe(no_mangle)]
pub extern "C" fn __invoke(index: i32) -> i32 {
    PLUGIN.with(|cell| {
        let plugin = match cell.get() {
            Some(plugin) => plugin,
            None => match Plugin::load() {
                Ok(plugin) => cell.get_or_init(|| plugin),
                Err(failure) => return error::report(&failure),
            },
        };
        plugin.call(index)
    })
}

/// Evaluates the script at build time (Wizer protocol); a failure traps, so
/// the compiler reports it as a build error.
#[unsafe(export_name = "wizer.initialize")]
pub extern "C" fn wizer_initialize() {
    PLUGIN.with(|cell| match Plugin::load() {
        Ok(plugin) => {
            let _ = cell.set(plugin);
        }
        Err(error) => {
            eprintln!("{}\n{}", error.message, error.stack.unwrap_or_default());
            std::process::abort();
        }
    });
}

impl Plugin {
    /// Creates the runtime, installs the SDK and evaluates the script.
    fn load() -> Result<Plugin, error::ErrorObject> {
        let script = script::load();
        let mut config = javy::Config::default();
        config.text_encoding(true);
        // Javy never collects cycles (it targets one call per instance); a
        // polyplug instance serves many calls. QuickJS triggers its collector
        // when the heap passes this mark, then sets the mark 50% above what
        // survived. wasi-libc cannot tell QuickJS allocation sizes, so it
        // counts 8 bytes per live allocation: this is QuickJS's own default,
        // in effect "collect past 32k live allocations, then past +50%".
        config.gc_threshold(GC_THRESHOLD);
        let runtime =
            Runtime::new(config).map_err(|e| error::ErrorObject::internal(&e.to_string()))?;
        let invoke = runtime
            .context()
            .with(|ctx| install(&ctx, &script).map_err(|e| error::from_js(&ctx, e)))?;
        Ok(Plugin {
            runtime,
            invoke,
            exports: script.exports,
        })
    }

    fn call(&self, index: i32) -> i32 {
        let Some(name) = usize::try_from(index)
            .ok()
            .and_then(|i| self.exports.get(i))
        else {
            return error::report(&error::ErrorObject::internal(&format!(
                "no export number {index}"
            )));
        };
        self.runtime.context().with(|ctx| {
            let result = self
                .invoke
                .clone()
                .restore(&ctx)
                .and_then(|invoke| invoke.call::<_, Promise>((name.as_str(),)))
                .and_then(|promise| settle(&promise));
            match result {
                Ok(()) => 0,
                Err(e) => error::report(&error::from_js(&ctx, e)),
            }
        })
    }
}

/// Installs the SDK globals, evaluates the script as an ES module and hands
/// its exports to the prelude. Returns the prelude's `invoke`.
fn install<'js>(
    ctx: &Ctx<'js>,
    script: &script::Script,
) -> javy::quickjs::Result<Persistent<Function<'static>>> {
    let prelude: Object = ctx.eval(include_str!("prelude.js"))?;
    let init: Function = prelude.get("init")?;
    init.call::<_, ()>((native::bindings(ctx)?,))?;

    let (module, evaluated) =
        Module::declare(ctx.clone(), script.name.as_str(), script.source.as_str())?.eval()?;
    // Top-level `await` runs here, to the end.
    settle(&evaluated)?;
    let register: Function = prelude.get("register")?;
    register.call::<_, ()>((module.namespace()?,))?;

    let invoke: Function = prelude.get("invoke")?;
    Ok(Persistent::save(ctx, invoke))
}

/// Runs pending jobs until `promise` settles, so `async` code completes
/// within the call.
fn settle(promise: &Promise) -> javy::quickjs::Result<()> {
    match promise.finish::<()>() {
        Err(javy::quickjs::Error::WouldBlock) => Err(javy::quickjs::Exception::throw_message(
            promise.ctx(),
            "the promise never settled: nothing is left that could resolve it",
        )),
        other => other,
    }
}

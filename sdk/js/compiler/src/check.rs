//! Compiles the script with (native) QuickJS, the engine the plugin runs,
//! so a syntax error fails the build instead of the first call.

use anyhow::{Result, bail};
use rquickjs::{Context, Error, Module, Runtime};

/// Fails with QuickJS's message and the `file:line:column` it points at.
pub fn syntax(name: &str, source: &str) -> Result<()> {
    let runtime = Runtime::new()?;
    let context = Context::full(&runtime)?;
    context.with(|ctx| match Module::declare(ctx.clone(), name, source) {
        Ok(_) => Ok(()),
        Err(Error::Exception) => {
            let thrown = ctx.catch();
            let Some(exception) = thrown.as_exception() else {
                bail!("{name}: does not compile");
            };
            let message = exception.message().unwrap_or_default();
            // QuickJS puts the position in the stack: "    at plugin.js:3:9".
            let stack = exception.stack().unwrap_or_default();
            match stack
                .lines()
                .find_map(|line| line.trim().strip_prefix("at "))
            {
                Some(at) => bail!("{at}: SyntaxError: {message}"),
                None => bail!("{name}: SyntaxError: {message}"),
            }
        }
        Err(error) => Err(error.into()),
    })
}

//! Why the host stopped a call: typed errors that travel up through
//! wasmtime's `anyhow` chain, from a host function, the memory limiter or
//! the epoch callback, and come back out by downcasting
//! (`failure.rs`). Their messages are for people; no code reads them.

/// A reason the host ended a call, raised as a trap.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Stop {
    #[error("the call ran past its timeout")]
    Timeout,
    #[error("the plugin reached its memory limit")]
    MemoryLimit,
    #[error("HTTP request to {url} is not allowed")]
    HostNotAllowed { url: String, host: String },
}

impl Stop {
    /// The `Stop` somewhere in an error's chain, if the host raised one.
    pub fn find(error: &wasmtime::Error) -> Option<&Stop> {
        error.chain().find_map(|cause| cause.downcast_ref::<Stop>())
    }
}

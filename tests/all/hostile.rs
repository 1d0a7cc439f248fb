//! Hostile plugins: for each bad behaviour, the smallest plugin that shows
//! it, the config it runs under, and the exact typed error it must end in,
//! within a time bound (`harness.rs`).
//!
//! Each area's table runs once in its own test; `repetitions.rs` repeats
//! every case (1,000 times for cheap ones, `POLYPLUG_SOAK` for a soak) in a
//! child process that checks memory, file descriptors and threads come back
//! to their baseline. `isolation.rs` and `server_load.rs` run hostile calls
//! among good ones; `state.rs` hostile key-value use beside a plugin
//! counting on the same store. `findings.rs` holds what the host does not yet withstand.

mod abi;
mod child;
mod contract;
mod cpu;
mod files;
mod findings;
mod harness;
mod isolation;
mod loading;
mod memory;
mod network;
mod repetitions;
mod server_load;
mod state;
mod traps;
mod wat;

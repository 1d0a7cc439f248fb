//! What one call used, for callers that ask ([`Host::call_measured`]).
//!
//! Nothing here is tracked while a call runs: fuel is what the store has
//! left at the end, and the peak memory is read once the call is over,
//! because within one call both of its parts only grow (wasm linear memory
//! never shrinks; the kernel's arena is emptied only when the next call
//! starts). A call that is not measured pays nothing for this.
//!
//! [`Host::call_measured`]: crate::Host::call_measured

use std::time::Duration;

/// What one call used: its wall time, its fuel and its peak memory, as
/// counted against the plugin's `timeout`, `fuel` and `memory` limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallStats {
    /// From the call to its result, including any wait for a free
    /// instance (`queue_timeout`).
    pub elapsed: Duration,
    /// Fuel the call consumed (roughly, wasm instructions plus what host
    /// functions charge). Zero when the call never reached an instance (an
    /// unknown function, an input refused before running, a busy pool) or
    /// was abandoned at its deadline while blocked outside wasm.
    pub fuel: u64,
    /// The most memory the instance held during the call, in bytes: its
    /// linear memory plus the kernel memory that holds the input, output
    /// and the plugin's blocks, the sum the `memory` limit caps. Linear
    /// memory never shrinks, so on an instance that served earlier calls
    /// this includes what they grew it to. Zero when `fuel` is.
    pub peak_memory: u64,
}

//! What one instance's store holds: the kernel memory, the vars, the
//! capabilities the plugin was granted, and the current call's deadline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use wasmtime_wasi::p1::WasiP1Ctx;

use super::kernel::{Kernel, OverBudget};
use super::stop::Stop;
use crate::config::{HostPattern, HttpMock};
use crate::kv::{KvLimits, Store};
use crate::metrics::KvStats;
use crate::module::MAX_TABLE_ENTRIES;

/// What every instance of one plugin generation may reach, shared.
pub(crate) struct Grants {
    pub plugin: String,
    pub allowed_hosts: Vec<HostPattern>,
    /// Values the plugin reads with `config_get`.
    pub config: BTreeMap<String, String>,
    /// Linear memory and kernel memory together.
    pub memory: u64,
    pub max_http_response: u64,
    /// Canned responses in place of the network (`PluginConfig::http_mocks`).
    pub http_mocks: Option<BTreeMap<String, HttpMock>>,
    /// Bytes the vars of one instance may hold (keys, values, bookkeeping).
    pub max_var_bytes: u64,
    /// The key-value store the plugin may use, if it was granted one.
    pub kv: Option<KvAccess>,
    pub kv_limits: KvLimits,
    /// Counters of its store operations, shared with its generation.
    pub kv_stats: Arc<KvStats>,
}

/// A plugin's grant of a key-value store, resolved: the open store and the
/// namespace every key it names lives in.
pub(crate) struct KvAccess {
    pub store: Store,
    /// Not the guest's to name or see (`KvGrant::namespace_id`).
    pub namespace: Arc<str>,
}

pub(crate) struct State {
    pub kernel: Kernel,
    pub grants: Arc<Grants>,
    /// Extism's per-instance vars: a cache that lives as long as the
    /// instance.
    pub vars: BTreeMap<String, Vec<u8>>,
    /// The status of the last HTTP request, for `http_status_code`.
    pub http_status: u16,
    /// Store operations the running call has made.
    pub kv_operations: u64,
    pub wasi: Option<WasiP1Ctx>,
    /// When the running call (or start-up) must stop.
    pub deadline: Instant,
    /// Until when the call may run without yielding to the executor.
    pub slice_end: Instant,
    /// Bytes of linear memory the instance has.
    linear_memory: u64,
}

impl State {
    pub fn new(grants: Arc<Grants>, wasi: Option<WasiP1Ctx>) -> Self {
        let now = Instant::now();
        Self {
            kernel: Kernel::default(),
            grants,
            vars: BTreeMap::new(),
            http_status: 0,
            kv_operations: 0,
            wasi,
            deadline: now,
            slice_end: now,
            linear_memory: 0,
        }
    }

    /// Linear memory and kernel memory together: what the `memory` limit
    /// caps. Neither part shrinks during a call, so read at its end this is
    /// the call's peak.
    pub fn memory(&self) -> u64 {
        self.linear_memory.saturating_add(self.kernel.size())
    }

    /// What the kernel may grow to: the memory limit less linear memory.
    pub fn kernel_budget(&self) -> u64 {
        self.grants.memory.saturating_sub(self.linear_memory)
    }

    /// A new kernel block holding `bytes`, within the memory budget.
    pub fn give(&mut self, bytes: &[u8]) -> Result<u64, Stop> {
        let budget = self.kernel_budget();
        self.kernel
            .store_block(bytes, budget)
            .map_err(|OverBudget| Stop::MemoryLimit)
    }

    /// The bytes of the block at `offset` (empty for the null handle), or
    /// an error naming `what` when no block starts there.
    pub fn handle(&self, offset: u64, what: &str) -> wasmtime::Result<Vec<u8>> {
        self.kernel
            .block(offset)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| {
                wasmtime::Error::msg(format!("invalid handle offset for {what}: {offset}"))
            })
    }
}

/// The fuel a host function costs beyond the instructions that call it:
/// `base`, plus one for every 16 bytes it copies. Loads and stores of one
/// word cost nothing extra; anything that allocates, looks up or copies a
/// block does, so a loop over host functions runs out of fuel about as
/// fast as it would run out of time.
pub(crate) fn charge(
    caller: &mut wasmtime::Caller<'_, State>,
    base: u64,
    bytes: u64,
) -> wasmtime::Result<()> {
    let left = caller.get_fuel()?;
    caller.set_fuel(left.saturating_sub(base.saturating_add(bytes / 16)))
}

/// What allocating or freeing a block, or looking one up, costs.
pub(crate) const BLOCK_FUEL: u64 = 100;
/// What a host function that reads a block and acts on it costs (a log
/// line, a var, a config value, an HTTP request, a store operation).
pub(crate) const CALL_FUEL: u64 = 1_000;

/// Linear memory and kernel memory share the plugin's `memory` limit.
/// Going past it stops the call as `MemoryLimit` (a trap, rather than a
/// failed `memory.grow` that a guest's allocator turns into an abort).
impl wasmtime::ResourceLimiter for State {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let desired = desired as u64;
        if desired.saturating_add(self.kernel.size()) > self.grants.memory {
            return Err(Stop::MemoryLimit.into());
        }
        self.linear_memory = desired;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired as u64 <= MAX_TABLE_ENTRIES)
    }
}

//! A plugin's bounded set of execution slots.
//!
//! Each slot owns its own compiled copy of the module, and with it its own
//! wasmtime engine, and runs at most one call at a time. The separate engine
//! is what isolates calls from each other: Extism stops a call that runs
//! past its timeout by bumping the *engine's* epoch, which interrupts every
//! call running on that engine. With one call per engine, a timeout can
//! only ever stop the call that earned it.
//!
//! Slots are made on demand up to the plugin's `instances` limit; the first
//! one is made at load. A new slot compiles from wasmtime's on-disk cache
//! (about 1-2 ms for a small guest, tens of ms for Go). A caller that finds
//! every slot busy waits up to `queue_timeout` for one.

use std::sync::Mutex;

use extism::CompiledPlugin;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One engine and, between calls, the instance that last ran cleanly on it.
pub(crate) struct Slot {
    pub compiled: CompiledPlugin,
    pub instance: Option<extism::Plugin>,
    /// Calls the current instance has served.
    pub served: u32,
}

pub(crate) struct Pool {
    permits: std::sync::Arc<Semaphore>,
    idle: Mutex<Vec<Slot>>,
    size: usize,
}

/// The right to run one call: a permit, and the slot to run it in.
pub(crate) struct Lease {
    _permit: OwnedSemaphorePermit,
    pub slot: Option<Slot>,
}

impl Pool {
    /// A pool of at most `size` slots, starting with `first`.
    pub fn new(size: usize, first: Slot) -> Self {
        Self {
            permits: std::sync::Arc::new(Semaphore::new(size)),
            idle: Mutex::new(vec![first]),
            size,
        }
    }

    /// The most calls this plugin runs at once.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Calls holding a slot now.
    pub fn busy(&self) -> usize {
        self.size - self.permits.available_permits()
    }

    /// Waits up to `wait` for a free slot; `None` if none freed up in time.
    /// The lease holds an idle slot, or `None` when the caller must make one
    /// (which the permit entitles it to).
    pub async fn lease(&self, wait: std::time::Duration) -> Option<Lease> {
        // A free instance is the common case: take it without arming a timer.
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => tokio::time::timeout(wait, self.permits.clone().acquire_owned())
                .await
                .ok()?
                .expect("the semaphore is never closed"),
        };
        let slot = self.lock().pop();
        Some(Lease {
            _permit: permit,
            slot,
        })
    }

    /// Gives a slot back for the next call. Called before the lease (and its
    /// permit) is dropped, so a waiting caller always finds the slot.
    pub fn give_back(&self, slot: Slot) {
        self.lock().push(slot);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

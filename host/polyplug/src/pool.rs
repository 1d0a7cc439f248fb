//! A plugin generation's bounded set of instances.
//!
//! At most `instances` calls of a generation run at once, each in an
//! instance of its own; all of them share the generation's engine and
//! compiled code. An instance that finished cleanly waits here for the
//! next call; a caller that finds every instance busy waits up to
//! `queue_timeout` for one. The first instance is made at load, the
//! others when a call finds none idle.
//!
//! A lease is owned by the call's future: when the future is dropped (the
//! caller gave up, or the host stopped waiting at the deadline), the
//! instance it held is dropped with it and its place is free at once.

use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::runtime::Instance;

pub(crate) struct Pool {
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Instance>>,
    size: usize,
}

/// The right to run one call: a permit, and the idle instance to run it
/// in, if there was one.
pub(crate) struct Lease {
    _permit: OwnedSemaphorePermit,
    pub instance: Option<Instance>,
}

impl Pool {
    /// A pool of at most `size` instances, starting with `first`.
    pub fn new(size: usize, first: Instance) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(size)),
            idle: Mutex::new(vec![first]),
            size,
        }
    }

    /// The most calls this generation runs at once.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Calls holding an instance now.
    pub fn busy(&self) -> usize {
        self.size - self.permits.available_permits()
    }

    /// Instances waiting for a call now.
    pub fn idle(&self) -> usize {
        self.lock().len()
    }

    /// Waits up to `wait` for a free place; `None` if none freed up in time.
    pub async fn lease(&self, wait: std::time::Duration) -> Option<Lease> {
        // A free place is the common case: take it without arming a timer.
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => tokio::time::timeout(wait, self.permits.clone().acquire_owned())
                .await
                .ok()?
                .expect("the semaphore is never closed"),
        };
        let instance = self.lock().pop();
        Some(Lease {
            _permit: permit,
            instance,
        })
    }

    /// Keeps an instance for the next call. Called before the lease (and
    /// its permit) is dropped, so a waiting caller always finds it.
    pub fn give_back(&self, instance: Instance) {
        self.lock().push(instance);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Instance>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

//! `polyplug_kv`: host-managed key-value state, imported from
//! `extism:host/user` (the namespace Extism PDKs give user host
//! functions).
//!
//! `polyplug_kv(request: i64) -> i64` takes a kernel block holding a JSON
//! request and returns a new block holding the JSON answer (the guest
//! frees both); docs/contract.md, "Host-managed state", is the ABI. Every
//! refusal (no grant, a limit, a malformed request, a failing store) is an
//! answer the guest reads, never a trap: only a handle that is not a block
//! traps, as in every other host function.
//!
//! The function is always linked, so a module that imports it loads
//! whether or not it was granted a store (a module exports many
//! functions, and one that uses state should not force a grant on the
//! others); without a grant every request answers `kv_not_granted`. The
//! store runs the operation on a blocking thread while the call waits; a
//! call waiting there past its deadline is abandoned like any call
//! blocked in a host function (`lane.rs`) and fails as `Timeout`.

use std::time::Instant;

use wasmtime::{Caller, Linker};

use super::state::{CALL_FUEL, Grants, State, charge};
use super::stop::Stop;
use crate::kv::{self, KV_OPERATIONS, KvCode, KvError, Quota, Request};

/// The namespace of user host functions in Extism's PDKs.
pub(crate) const USER: &str = "extism:host/user";
/// The one function of the key-value ABI.
pub(crate) const FUNCTION: &str = "polyplug_kv";

type Result<T> = wasmtime::Result<T>;

pub(crate) fn link(linker: &mut Linker<State>) -> Result<()> {
    linker.func_wrap_async(
        USER,
        FUNCTION,
        |mut c: Caller<'_, State>, (request,): (u64,)| {
            Box::new(async move { polyplug_kv(&mut c, request).await })
        },
    )?;
    Ok(())
}

async fn polyplug_kv(c: &mut Caller<'_, State>, request: u64) -> Result<u64> {
    let length = c.data().kernel.length(request);
    charge(c, CALL_FUEL, length)?;
    let state = c.data_mut();
    let bytes = state.handle(request, "kv request")?;
    state.kv_operations += 1;
    let grants = state.grants.clone();
    let invalid = KV_OPERATIONS.len() - 1;
    let (result, operation, took) = match Request::parse(&bytes, &grants.kv_limits) {
        Err((error, operation)) => (Err(error), operation.unwrap_or(invalid), None),
        Ok(request) => {
            let operation = request.operation();
            match (
                &grants.kv,
                state.kv_operations > grants.kv_limits.operations,
            ) {
                (None, _) => (Err(not_granted()), operation, None),
                (Some(_), true) => {
                    let message = format!(
                        "this call has made {} store operations, its limit (`max_kv_operations`)",
                        grants.kv_limits.operations
                    );
                    let error = KvError::new(KvCode::TooManyOperations, message);
                    (Err(error), operation, None)
                }
                (Some(access), false) => {
                    let quota = quota(&grants);
                    let deadline = state.deadline;
                    let namespace = access.namespace.clone();
                    let (result, took) =
                        access.store.run(namespace, request, quota, deadline).await;
                    if Instant::now() >= deadline {
                        // The guest could not act on the answer anyway.
                        grants
                            .kv_stats
                            .record(operation, Some(KvCode::Unavailable), Some(took));
                        return Err(Stop::Timeout.into());
                    }
                    (result, operation, Some(took))
                }
            }
        }
    };
    grants
        .kv_stats
        .record(operation, result.as_ref().err().map(|e| e.code), took);
    let answer = kv::render(&result);
    charge(c, 0, answer.len() as u64)?;
    Ok(c.data_mut().give(&answer)?)
}

fn not_granted() -> KvError {
    let message = "this plugin is granted no key-value store: the operator \
                   grants one with `kv = \"default\"` in its config";
    KvError::new(KvCode::NotGranted, message)
}

fn quota(grants: &Grants) -> Quota {
    Quota {
        bytes: grants.kv_limits.namespace_bytes,
        keys: grants.kv_limits.namespace_keys,
    }
}

/// A request made by the embedder rather than the guest (`Host::kv`): read
/// and checked against the plugin's limits as a guest's is, and run in
/// the plugin's namespace; it counts against no call's operations, and
/// `deadline` bounds it as a call's deadline bounds a guest's. Returns the
/// answer the guest would read.
pub(crate) async fn from_host(grants: &Grants, request: &[u8], deadline: Instant) -> Vec<u8> {
    let result = match (Request::parse(request, &grants.kv_limits), &grants.kv) {
        (Err((error, _)), _) => Err(error),
        (Ok(_), None) => Err(not_granted()),
        (Ok(request), Some(access)) => {
            let namespace = access.namespace.clone();
            let (result, _) = access
                .store
                .run(namespace, request, quota(grants), deadline)
                .await;
            result
        }
    };
    kv::render(&result)
}

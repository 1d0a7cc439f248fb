//! What the admin API stands on: where uploaded plugin versions are kept,
//! and who may change them. The routes are built on these.
//!
//! - [`store::Store`]: the version store. `put` a module, `activate` a
//!   version or `rollback` to the one before; `active` at start-up.
//! - [`api::Admin`]: the routes, over a host, its store and its tokens.
//! - [`tokens::Tokens`]: the bearer tokens. `load` them from a file and
//!   `POLYPLUG_ADMIN_TOKEN`; `check` a request's `Authorization` header.

pub mod api;
pub mod store;
pub mod tokens;

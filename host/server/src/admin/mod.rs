//! What the admin API stands on. The routes are built on these.
//!
//! - [`store::Store`]: the version store. `put` a module, `activate` a
//!   version or `rollback` to the one before; `active` at start-up.

pub mod store;

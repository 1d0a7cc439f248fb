//! The polyplug reference functions (docs/contract.md, section 5), one
//! module each. `tests/vectors/` holds the cases they must pass; `tally`
//! and `tally_cas` keep state, so their cases are in `tests/all/kv/` and
//! `tests/all/kv_languages.rs`.

mod add_tax;
mod analyze_text;
mod apply_discounts;
mod fetch_json;
mod format_receipt;
mod greet;
mod normalize_cart;
mod tally;
mod tally_cas;

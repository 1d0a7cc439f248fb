//! The polyplug reference functions (docs/contract.md, section 5), one
//! module each. `tests/vectors/` holds the cases they must pass; `tally`
//! keeps state, so its cases are in `tests/all/kv/`.

mod add_tax;
mod analyze_text;
mod apply_discounts;
mod fetch_json;
mod format_receipt;
mod greet;
mod normalize_cart;
mod tally;

use polyplug_pdk::{Error, SafeInt, config};
use serde::{Deserialize, Serialize};

/// `apply_discounts`' output (contract section 5.2), read and written back
/// in the same field order.
#[derive(Deserialize, Serialize)]
struct PricedCart {
    currency: String,
    lines: Vec<PricedLine>,
    subtotal: SafeInt,
    discount: SafeInt,
    total: SafeInt,
}

#[derive(Deserialize, Serialize)]
struct PricedLine {
    sku: String,
    subtotal: SafeInt,
    discount: SafeInt,
    total: SafeInt,
    applied: Vec<String>,
}

#[derive(Serialize)]
struct Output {
    #[serde(flatten)]
    cart: PricedCart,
    tax_rate_bp: u64,
    tax: u64,
    total_with_tax: SafeInt,
}

/// 100% in basis points: the highest rate `tax_rate_bp` may hold.
const MAX_RATE_BP: u64 = 10_000;

fn add_tax(cart: PricedCart) -> Result<Output, Error> {
    // Everything the input alone decides is checked before the rate is
    // read: when both are malformed, the contract reports the input.
    let currency = &cart.currency;
    if !(currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(Error::invalid_input(format!(
            "`currency` must be three letters A-Z, found {currency:?}"
        )));
    }
    for (i, line) in cart.lines.iter().enumerate() {
        if !adds_up(line.subtotal, line.discount, line.total) {
            return Err(Error::invalid_input(format!(
                "`lines[{i}]`: total {} is not subtotal {} - discount {}",
                line.total, line.subtotal, line.discount
            )));
        }
    }
    // `None` past 2^53-1: such a sum can never equal the cart's amount.
    let sum = |amount: fn(&PricedLine) -> SafeInt| {
        cart.lines
            .iter()
            .try_fold(SafeInt::ZERO, |sum, line| sum.checked_add(amount(line)))
    };
    if sum(|line| line.subtotal) != Some(cart.subtotal)
        || sum(|line| line.discount) != Some(cart.discount)
        || !adds_up(cart.subtotal, cart.discount, cart.total)
    {
        return Err(Error::invalid_input(
            "the cart's subtotal, discount and total are not the sums of its lines'",
        ));
    }

    let tax_rate_bp = tax_rate_bp()?;
    // Halves round up. total * rate can pass 2^64, never 2^128.
    let total = u128::from(cart.total.get());
    let tax = ((total * u128::from(tax_rate_bp) + 5_000) / 10_000) as u64;
    // tax <= total < 2^53, so the sum cannot wrap.
    let total_with_tax = SafeInt::new(cart.total.get() + tax).ok_or_else(|| {
        Error::invalid_input(format!(
            "total {} plus tax {tax} is above 2^53-1",
            cart.total
        ))
    })?;
    Ok(Output {
        cart,
        tax_rate_bp,
        tax,
        total_with_tax,
    })
}

fn adds_up(subtotal: SafeInt, discount: SafeInt, total: SafeInt) -> bool {
    discount <= subtotal && total.get() == subtotal.get() - discount.get()
}

/// The config value `tax_rate_bp`, which must be set: a tax step that
/// silently taxes nothing is a misconfiguration.
fn tax_rate_bp() -> Result<u64, Error> {
    let rate = config::json::<SafeInt>("tax_rate_bp")?
        .ok_or_else(|| Error::invalid_config("config `tax_rate_bp` is not set"))?
        .get();
    if rate > MAX_RATE_BP {
        return Err(Error::invalid_config(format!(
            "config `tax_rate_bp` must be 0..={MAX_RATE_BP} basis points, found {rate}"
        )));
    }
    Ok(rate)
}

polyplug_pdk::export!(add_tax);

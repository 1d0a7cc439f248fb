use polyplug_pdk::{Error, SafeInt, config, non_null};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Input {
    cart: Cart,
}

#[derive(Deserialize)]
struct Cart {
    currency: String,
    lines: Vec<Line>,
}

#[derive(Deserialize)]
struct Line {
    sku: String,
    quantity: SafeInt,
    unit_price: SafeInt,
    /// Absent means no tags; `null` is rejected by `Vec`'s own deserializer.
    #[serde(default)]
    tags: Vec<String>,
}

/// One entry of the config value `rules`.
#[derive(Deserialize)]
struct Rule {
    id: String,
    #[serde(default, deserialize_with = "non_null")]
    percent: Option<Percent>,
    #[serde(default, deserialize_with = "non_null")]
    amount_off: Option<SafeInt>,
    #[serde(default, deserialize_with = "non_null")]
    tag: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    min_quantity: Option<SafeInt>,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(try_from = "SafeInt")]
struct Percent(u64);

#[derive(Serialize)]
struct Output {
    currency: String,
    lines: Vec<PricedLine>,
    subtotal: u64,
    discount: u64,
    total: u64,
}

#[derive(Serialize)]
struct PricedLine {
    sku: String,
    subtotal: SafeInt,
    discount: u64,
    total: u64,
    applied: Vec<String>,
}

fn apply_discounts(Input { cart }: Input) -> Result<Output, Error> {
    // Everything the input alone decides is checked before the rules are
    // read: when both are malformed, the contract reports the input.
    let currency = cart.currency;
    if !(currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(Error::invalid_input(format!(
            "`currency` must be three letters A-Z, found {currency:?}"
        )));
    }
    let subtotals = cart
        .lines
        .iter()
        .map(Line::subtotal)
        .collect::<Result<Vec<_>, _>>()?;
    let subtotal = subtotals
        .iter()
        .try_fold(SafeInt::ZERO, |sum, &line| sum.checked_add(line))
        .ok_or_else(|| Error::invalid_input("cart subtotal is above 2^53-1"))?
        .get();

    // Read on every call, even for a cart with no lines, so that malformed
    // rules never go unnoticed.
    let rules: Vec<Rule> = config::json("rules")?.unwrap_or_default();
    let lines = cart
        .lines
        .into_iter()
        .zip(subtotals)
        .map(|(line, subtotal)| price(line, subtotal, &rules))
        .collect::<Result<Vec<_>, _>>()?;

    // Each line's discount is at most its subtotal, so these stay in range.
    let discount = lines.iter().map(|line| line.discount).sum();
    Ok(Output {
        currency,
        lines,
        subtotal,
        discount,
        total: subtotal - discount,
    })
}

fn price(line: Line, subtotal: SafeInt, rules: &[Rule]) -> Result<PricedLine, Error> {
    // Saturating is exact here: the sum is capped at the subtotal (< 2^53)
    // right after, and every contribution is below 2^53.
    let mut contributions = 0u64;
    let mut applied = Vec::new();
    for rule in rules.iter().filter(|rule| rule.matches(&line)) {
        if let Some(Percent(percent)) = rule.percent {
            // subtotal * 100 < 2^60: exact in u64, floored by the division.
            contributions = contributions.saturating_add(subtotal.get() * percent / 100);
        }
        if let Some(amount_off) = rule.amount_off {
            let off = amount_off.checked_mul(line.quantity).ok_or_else(|| {
                Error::invalid_input(format!(
                    "line `{}`: rule `{}` takes {} x {}, above 2^53-1",
                    line.sku, rule.id, amount_off, line.quantity
                ))
            })?;
            contributions = contributions.saturating_add(off.get());
        }
        applied.push(rule.id.clone());
    }

    let discount = contributions.min(subtotal.get());
    Ok(PricedLine {
        sku: line.sku,
        subtotal,
        discount,
        total: subtotal.get() - discount,
        applied,
    })
}

impl Line {
    fn subtotal(&self) -> Result<SafeInt, Error> {
        self.quantity.checked_mul(self.unit_price).ok_or_else(|| {
            Error::invalid_input(format!(
                "line `{}`: subtotal {} x {} is above 2^53-1",
                self.sku, self.quantity, self.unit_price
            ))
        })
    }
}

impl Rule {
    fn matches(&self, line: &Line) -> bool {
        self.tag.as_ref().is_none_or(|tag| line.tags.contains(tag))
            && self.min_quantity.is_none_or(|min| line.quantity >= min)
    }
}

impl TryFrom<SafeInt> for Percent {
    type Error = String;

    fn try_from(value: SafeInt) -> Result<Percent, String> {
        match value.get() {
            percent @ 0..=100 => Ok(Percent(percent)),
            _ => Err(format!("`percent` must be 0..=100, found {value}")),
        }
    }
}

polyplug_pdk::export!(apply_discounts);

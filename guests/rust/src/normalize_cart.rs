use std::collections::{BTreeSet, HashMap};

use polyplug_pdk::{Error, SafeInt};
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

/// `apply_discounts`' input (contract section 5.2), so the two chain.
#[derive(Serialize)]
struct Output {
    cart: NormalCart,
}

#[derive(Serialize)]
struct NormalCart {
    currency: String,
    lines: Vec<NormalLine>,
}

#[derive(Serialize)]
struct NormalLine {
    sku: String,
    quantity: SafeInt,
    unit_price: SafeInt,
    /// A `BTreeSet<String>` iterates in byte order, which for UTF-8 is the
    /// contract's order by Unicode scalar value.
    tags: BTreeSet<String>,
}

fn normalize_cart(Input { cart }: Input) -> Result<Output, Error> {
    // `str::trim` removes exactly the Unicode White_Space property; case
    // mapping is ASCII only, as the contract says.
    let currency = cart.currency.trim().to_ascii_uppercase();
    if !(currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(Error::invalid_input(format!(
            "`cart.currency` must be three letters A-Z once trimmed and uppercased, found {:?}",
            cart.currency
        )));
    }
    // Every line is checked, quantity 0 or not, before any is merged.
    let normalized = cart
        .lines
        .into_iter()
        .enumerate()
        .map(|(i, line)| normalize(i, line))
        .collect::<Result<Vec<_>, _>>()?;

    let mut lines: Vec<NormalLine> = Vec::new();
    let mut position: HashMap<String, usize> = HashMap::new();
    // A price conflict is reported only if nothing in the input is invalid,
    // so the first one waits until every quantity has been summed.
    let mut conflict = None;
    for line in normalized {
        if line.quantity == SafeInt::ZERO {
            continue;
        }
        let Some(&first) = position.get(&line.sku) else {
            position.insert(line.sku.clone(), lines.len());
            lines.push(line);
            continue;
        };
        let merged = &mut lines[first];
        if merged.unit_price != line.unit_price && conflict.is_none() {
            conflict = Some(format!(
                "sku `{}` comes at unit prices {} and {}",
                line.sku, merged.unit_price, line.unit_price
            ));
        }
        merged.quantity = merged.quantity.checked_add(line.quantity).ok_or_else(|| {
            Error::invalid_input(format!(
                "sku `{}`: the merged quantity is above 2^53-1",
                line.sku
            ))
        })?;
        merged.tags.extend(line.tags);
    }
    if let Some(message) = conflict {
        return Err(Error::new("price_conflict", message));
    }
    Ok(Output {
        cart: NormalCart { currency, lines },
    })
}

fn normalize(index: usize, line: Line) -> Result<NormalLine, Error> {
    let sku = line.sku.trim().to_ascii_uppercase();
    if sku.is_empty() {
        return Err(Error::invalid_input(format!(
            "`cart.lines[{index}].sku` is empty once trimmed"
        )));
    }
    let tags = line
        .tags
        .iter()
        .map(|tag| tag.trim().to_ascii_lowercase())
        .filter(|tag| !tag.is_empty())
        .collect();
    Ok(NormalLine {
        sku,
        quantity: line.quantity,
        unit_price: line.unit_price,
        tags,
    })
}

polyplug_pdk::export!(normalize_cart);

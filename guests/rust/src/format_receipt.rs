use polyplug_pdk::{Error, SafeInt};
use serde::{Deserialize, Serialize};

/// The fields of `add_tax`'s output (contract section 5.6) a receipt prints.
#[derive(Deserialize)]
struct Input {
    currency: String,
    lines: Vec<Line>,
    subtotal: SafeInt,
    discount: SafeInt,
    tax_rate_bp: SafeInt,
    tax: SafeInt,
    total_with_tax: SafeInt,
}

#[derive(Deserialize)]
struct Line {
    sku: String,
    subtotal: SafeInt,
    discount: SafeInt,
}

#[derive(Serialize)]
struct Output {
    receipt: String,
}

/// Every row is this many Unicode scalar values, then `\n`.
const WIDTH: usize = 40;

fn format_receipt(input: Input) -> Result<Output, Error> {
    let currency = input.currency;
    if !(currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(Error::invalid_input(format!(
            "`currency` must be three letters A-Z, found {currency:?}"
        )));
    }
    let rate = input.tax_rate_bp.get();
    if rate > 10_000 {
        return Err(Error::invalid_input(format!(
            "`tax_rate_bp` must be 0..=10000, found {rate}"
        )));
    }

    let mut receipt = Receipt {
        decimals: decimals(&currency),
        currency,
        text: String::new(),
    };
    for line in &input.lines {
        // A control character would break the layout: it prints as U+FFFD.
        let sku: String = line
            .sku
            .chars()
            .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
            .collect();
        receipt.row(&sku, &receipt.amount(line.subtotal, ""));
        if line.discount > SafeInt::ZERO {
            receipt.row("  discount", &receipt.amount(line.discount, "-"));
        }
    }
    receipt.text.push_str(&"-".repeat(WIDTH));
    receipt.text.push('\n');
    receipt.row("Subtotal", &receipt.amount(input.subtotal, ""));
    let sign = if input.discount > SafeInt::ZERO {
        "-"
    } else {
        ""
    };
    receipt.row("Discount", &receipt.amount(input.discount, sign));
    receipt.row(
        &format!("Tax {}%", decimal(rate, 2)),
        &receipt.amount(input.tax, ""),
    );
    receipt.row("Total", &receipt.amount(input.total_with_tax, ""));
    Ok(Output {
        receipt: receipt.text,
    })
}

struct Receipt {
    currency: String,
    decimals: usize,
    text: String,
}

impl Receipt {
    /// `minor` units as a decimal, then the currency: `-3.99 EUR`.
    fn amount(&self, minor: SafeInt, sign: &str) -> String {
        format!(
            "{sign}{} {}",
            decimal(minor.get(), self.decimals),
            self.currency
        )
    }

    /// `label` left, `amount` (ASCII) right, WIDTH scalar values in all; a
    /// label that leaves no space before the amount is cut with `…`.
    fn row(&mut self, label: &str, amount: &str) {
        let room = WIDTH - 1 - amount.len();
        let mut label_width = label.chars().count();
        if label_width > room {
            self.text.extend(label.chars().take(room - 1));
            self.text.push('…');
            label_width = room;
        } else {
            self.text.push_str(label);
        }
        let padding = WIDTH - label_width - amount.len();
        self.text.extend(std::iter::repeat_n(' ', padding));
        self.text.push_str(amount);
        self.text.push('\n');
    }
}

/// `value` with `decimals` digits after the point: `decimal(5, 2)` is `0.05`.
fn decimal(value: u64, decimals: usize) -> String {
    let digits = format!("{value:0>width$}", width = decimals + 1);
    if decimals == 0 {
        return digits;
    }
    let (units, fraction) = digits.split_at(digits.len() - decimals);
    format!("{units}.{fraction}")
}

/// The contract's table of decimals per currency (from ISO 4217).
fn decimals(currency: &str) -> usize {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

polyplug_pdk::export!(format_receipt);

// The polyplug reference functions (docs/contract.md, section 5) in
// JavaScript. `tests/vectors/` holds the cases they must pass. The globals
// (Host, Config, Http, Kv, Shape, PluginError) come from the polyplug JS SDK:
// see sdk/js/README.md.

// 5.1 greet -----------------------------------------------------------------

export function greet() {
  const { name } = Host.input(Shape.object({ name: Shape.string() }));
  return { greeting: `Hello, ${name}!` };
}

// 5.2 apply_discounts ---------------------------------------------------------

const Checkout = Shape.object({
  cart: Shape.object({
    currency: Shape.string(),
    lines: Shape.array(
      Shape.object({
        sku: Shape.string(),
        quantity: Shape.int(),
        unit_price: Shape.int(),
        tags: Shape.optional(Shape.array(Shape.string())),
      }),
    ),
  }),
});

const Rules = Shape.array(
  Shape.object({
    id: Shape.string(),
    percent: Shape.optional(Shape.int({ max: 100 })),
    amount_off: Shape.optional(Shape.int()),
    tag: Shape.optional(Shape.string()),
    min_quantity: Shape.optional(Shape.int()),
  }),
);

// Money is BigInt: products of two integers below 2^53 are not exact as
// Numbers.
const MAX = BigInt(Number.MAX_SAFE_INTEGER);

export function apply_discounts() {
  // Everything the input alone decides is checked before the rules are
  // read: when both are malformed, the contract reports the input.
  const { cart } = Host.input(Checkout);
  if (!/^[A-Z]{3}$/.test(cart.currency)) {
    throw new PluginError(
      "invalid_input",
      `\`cart.currency\`: expected three letters A-Z, found ${JSON.stringify(cart.currency)}`,
    );
  }
  const subtotals = cart.lines.map((line, i) =>
    atMostMax(
      BigInt(line.quantity) * BigInt(line.unit_price),
      `\`cart.lines[${i}]\`: quantity * unit_price is above 2^53-1`,
    ),
  );
  const subtotal = atMostMax(sum(subtotals), "cart subtotal is above 2^53-1");

  // Read on every call, even for a cart with no lines, so that malformed
  // rules never go unnoticed.
  const rules = Config.json("rules", Rules) ?? [];
  const lines = cart.lines.map((line, i) => price(line, subtotals[i], rules));
  const discount = sum(lines.map((line) => line.discount));
  return { currency: cart.currency, lines, subtotal, discount, total: subtotal - discount };
}

function price(line, subtotal, rules) {
  const tags = line.tags ?? [];
  const matching = rules.filter(
    (rule) =>
      (rule.tag === undefined || tags.includes(rule.tag)) &&
      (rule.min_quantity === undefined || line.quantity >= rule.min_quantity),
  );
  let contributions = 0n;
  for (const rule of matching) {
    if (rule.percent !== undefined) {
      // Non-negative, so BigInt division is the floor.
      contributions += (subtotal * BigInt(rule.percent)) / 100n;
    }
    if (rule.amount_off !== undefined) {
      contributions += atMostMax(
        BigInt(rule.amount_off) * BigInt(line.quantity),
        `line \`${line.sku}\`: rule \`${rule.id}\` takes ${rule.amount_off} x ${line.quantity}, above 2^53-1`,
      );
    }
  }
  const discount = contributions < subtotal ? contributions : subtotal;
  return {
    sku: line.sku,
    subtotal,
    discount,
    total: subtotal - discount,
    applied: matching.map((rule) => rule.id),
  };
}

function atMostMax(value, message) {
  if (value > MAX) throw new PluginError("invalid_input", message);
  return value;
}

const sum = (values) => values.reduce((a, b) => a + b, 0n);

// 5.3 analyze_text ------------------------------------------------------------

export function analyze_text() {
  const { text } = Host.input(Shape.object({ text: Shape.string() }));
  // The contract's word boundary is exactly the Unicode White_Space property
  // (JavaScript's `\s` differs: it includes U+FEFF and lacks U+0085).
  const words = text.split(/\p{White_Space}+/u).filter((word) => word !== "");
  let longestWord = "";
  let longestChars = 0;
  for (const word of words) {
    const chars = scalarCount(word);
    if (chars > longestChars) {
      // Strictly longer: on a tie the first word stays.
      longestWord = word;
      longestChars = chars;
    }
  }
  return {
    bytes: new TextEncoder().encode(text).length,
    chars: scalarCount(text),
    words: words.length,
    longest_word: longestWord,
  };
}

/** Unicode scalar values, not UTF-16 units: a string iterates by code point. */
function scalarCount(text) {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

// 5.4 fetch_json --------------------------------------------------------------

export function fetch_json() {
  const { url } = Host.input(Shape.object({ url: Shape.string() }));
  const response = Http.request(url);
  // Verbatim, so that numbers and escapes reach the caller as sent.
  return { status: response.status, json: response.jsonVerbatim() };
}

// 5.5 normalize_cart ----------------------------------------------------------

// A shop front's cart has apply_discounts' input shape (Checkout), only not
// yet clean.
export function normalize_cart() {
  const { cart } = Host.input(Checkout);
  const currency = asciiUpper(trimWhiteSpace(cart.currency));
  if (!/^[A-Z]{3}$/.test(currency)) {
    throw new PluginError(
      "invalid_input",
      `\`cart.currency\`: expected three letters A-Z once trimmed and uppercased, found ${JSON.stringify(cart.currency)}`,
    );
  }
  // Every line is checked, quantity 0 or not, before any is merged.
  const normalized = cart.lines.map((line, i) => {
    const sku = asciiUpper(trimWhiteSpace(line.sku));
    if (sku === "") throw new PluginError("invalid_input", `\`cart.lines[${i}].sku\` is empty once trimmed`);
    const tags = (line.tags ?? []).map((tag) => asciiLower(trimWhiteSpace(tag))).filter((tag) => tag !== "");
    return { sku, quantity: BigInt(line.quantity), unit_price: line.unit_price, tags };
  });

  // A Map keeps its keys in insertion order: each SKU where it first came.
  const merged = new Map();
  // A price conflict is reported only if nothing in the input is invalid,
  // so the first one waits until every quantity has been summed.
  let conflict = null;
  for (const line of normalized) {
    if (line.quantity === 0n) continue;
    const first = merged.get(line.sku);
    if (first === undefined) {
      merged.set(line.sku, { ...line, tags: new Set(line.tags) });
      continue;
    }
    if (first.unit_price !== line.unit_price && conflict === null) {
      conflict = `sku \`${line.sku}\` comes at unit prices ${first.unit_price} and ${line.unit_price}`;
    }
    first.quantity = atMostMax(
      first.quantity + line.quantity,
      `sku \`${line.sku}\`: the merged quantity is above 2^53-1`,
    );
    for (const tag of line.tags) first.tags.add(tag);
  }
  if (conflict !== null) throw new PluginError("price_conflict", conflict);
  const lines = [...merged.values()].map((line) => ({ ...line, tags: [...line.tags].sort(byScalarValue) }));
  return { cart: { currency, lines } };
}

/** Without leading and trailing White_Space (`trim()` also strips U+FEFF and keeps U+0085). */
const trimWhiteSpace = (text) => text.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, "");

/** ASCII-only case mapping, as the contract says: `ß` and `é` stay as they are. */
const asciiUpper = (text) => text.replace(/[a-z]+/g, (letters) => letters.toUpperCase());
const asciiLower = (text) => text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());

/**
 * Orders strings by Unicode scalar value (the order of their UTF-8 bytes);
 * the default sort compares UTF-16 units and puts U+1F600 before U+FF5A.
 */
function byScalarValue(a, b) {
  // Equal scalars take equal units, so one index walks both strings.
  for (let i = 0; i < a.length && i < b.length; ) {
    const x = a.codePointAt(i);
    const y = b.codePointAt(i);
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
  }
  return a.length - b.length;
}

// 5.6 add_tax -----------------------------------------------------------------

// apply_discounts' output.
const PricedCart = Shape.object({
  currency: Shape.string(),
  lines: Shape.array(
    Shape.object({
      sku: Shape.string(),
      subtotal: Shape.int(),
      discount: Shape.int(),
      total: Shape.int(),
      applied: Shape.array(Shape.string()),
    }),
  ),
  subtotal: Shape.int(),
  discount: Shape.int(),
  total: Shape.int(),
});

/** 100% in basis points: the highest rate `tax_rate_bp` may hold. */
const MAX_RATE_BP = 10000;

export function add_tax() {
  // Everything the input alone decides is checked before the rate is
  // read: when both are malformed, the contract reports the input.
  const cart = Host.input(PricedCart);
  if (!/^[A-Z]{3}$/.test(cart.currency)) {
    throw new PluginError(
      "invalid_input",
      `\`currency\`: expected three letters A-Z, found ${JSON.stringify(cart.currency)}`,
    );
  }
  cart.lines.forEach((line, i) => {
    if (!addsUp(line)) {
      throw new PluginError(
        "invalid_input",
        `\`lines[${i}]\`: total ${line.total} is not subtotal ${line.subtotal} - discount ${line.discount}`,
      );
    }
  });
  // BigInt sums: Numbers past 2^53 would round.
  const sumOf = (field) => sum(cart.lines.map((line) => BigInt(line[field])));
  if (sumOf("subtotal") !== BigInt(cart.subtotal) || sumOf("discount") !== BigInt(cart.discount) || !addsUp(cart)) {
    throw new PluginError("invalid_input", "the cart's subtotal, discount and total are not the sums of its lines'");
  }

  // Must be set: a tax step that silently taxes nothing is a misconfiguration.
  const rate = Config.json("tax_rate_bp", Shape.int({ max: MAX_RATE_BP }));
  if (rate === null) throw new PluginError("invalid_config", "config `tax_rate_bp` is not set");
  // Halves round up; BigInt, since total * rate can pass 2^64.
  const total = BigInt(cart.total);
  const tax = (total * BigInt(rate) + 5000n) / 10000n;
  const totalWithTax = atMostMax(total + tax, `total ${total} plus tax ${tax} is above 2^53-1`);
  return { ...cart, tax_rate_bp: rate, tax, total_with_tax: totalWithTax };
}

const addsUp = ({ subtotal, discount, total }) => discount <= subtotal && total === subtotal - discount;

// 5.7 format_receipt ----------------------------------------------------------

// The fields of add_tax's output that a receipt prints.
const TaxedCart = Shape.object({
  currency: Shape.string(),
  lines: Shape.array(Shape.object({ sku: Shape.string(), subtotal: Shape.int(), discount: Shape.int() })),
  subtotal: Shape.int(),
  discount: Shape.int(),
  tax_rate_bp: Shape.int({ max: MAX_RATE_BP }),
  tax: Shape.int(),
  total_with_tax: Shape.int(),
});

/** Every row is this many Unicode scalar values, then `\n`. */
const WIDTH = 40;

export function format_receipt() {
  const cart = Host.input(TaxedCart);
  if (!/^[A-Z]{3}$/.test(cart.currency)) {
    throw new PluginError(
      "invalid_input",
      `\`currency\`: expected three letters A-Z, found ${JSON.stringify(cart.currency)}`,
    );
  }
  const places = decimalsOf(cart.currency);
  const amount = (minor, sign = "") => `${sign}${decimal(minor, places)} ${cart.currency}`;
  const rows = [];
  for (const line of cart.lines) {
    // A control character (category Cc) would break the layout: it prints as U+FFFD.
    rows.push(row(line.sku.replace(/[\u0000-\u001f\u007f-\u009f]/g, "\uFFFD"), amount(line.subtotal)));
    if (line.discount > 0) rows.push(row("  discount", amount(line.discount, "-")));
  }
  rows.push("-".repeat(WIDTH));
  rows.push(row("Subtotal", amount(cart.subtotal)));
  rows.push(row("Discount", amount(cart.discount, cart.discount > 0 ? "-" : "")));
  rows.push(row(`Tax ${decimal(cart.tax_rate_bp, 2)}%`, amount(cart.tax)));
  rows.push(row("Total", amount(cart.total_with_tax)));
  return { receipt: rows.map((text) => `${text}\n`).join("") };
}

/**
 * `label` left, `amount` (ASCII) right, WIDTH scalar values in all; a label
 * that leaves no space before the amount is cut with `…`. Spreading a
 * string splits it into scalar values, never into halves of a pair.
 */
function row(label, amount) {
  const room = WIDTH - 1 - amount.length;
  let scalars = [...label];
  if (scalars.length > room) scalars = [...scalars.slice(0, room - 1), "\u2026"];
  return scalars.join("") + " ".repeat(WIDTH - scalars.length - amount.length) + amount;
}

/** `value` (a safe integer) with `places` digits after the point: `decimal(5, 2)` is `0.05`. */
function decimal(value, places) {
  if (places === 0) return String(value);
  const digits = String(value).padStart(places + 1, "0");
  return `${digits.slice(0, -places)}.${digits.slice(-places)}`;
}

/** The contract's table of decimals per currency (from ISO 4217). */
function decimalsOf(currency) {
  if ("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(" ").includes(currency)) return 0;
  if ("BHD IQD JOD KWD LYD OMR TND".split(" ").includes(currency)) return 3;
  if (currency === "CLF" || currency === "UYW") return 4;
  return 2;
}

// 5.8 tally -------------------------------------------------------------------

const Tally = Shape.object({ key: Shape.string(), by: Shape.int() });

// Adds `by` to the counter `key` in the plugin's key-value store, in one
// atomic operation of the host. The store's errors are thrown as
// PluginErrors with their `kv_*` codes, and reach the caller as they are.
export function tally() {
  const { key, by } = Host.input(Tally);
  return { key, value: Kv.increment(key, by).value };
}

// 5.9 tally_cas ---------------------------------------------------------------

// A counter as the store's `increment` reads one: an integer within ±(2^53-1).
const Counter = Shape.int({ min: -Number.MAX_SAFE_INTEGER });

// `tally` done with a read and a compare-and-swap, retried until no other
// writer came in between.
export function tally_cas() {
  const { key, by } = Host.input(Tally);
  for (;;) {
    let found;
    try {
      found = Kv.get(key, Counter) ?? { value: 0, version: 0 };
    } catch (error) {
      if (!(error instanceof PluginError) || error.code !== "kv_invalid_value") throw error;
      throw new PluginError("kv_not_an_integer", `\`${key}\` does not hold an integer within ±(2^53-1)`);
    }
    // Both are within 2^53-1, so the sum is exact.
    const next = found.value + by;
    if (next > Number.MAX_SAFE_INTEGER) {
      throw new PluginError("kv_overflow", `\`${key}\`: ${found.value} + ${by} is past 2^53-1`);
    }
    if (Kv.cas(key, found.version, next).swapped) return { key, value: next };
  }
}

// The polyplug reference functions (docs/contract.md, section 5) in
// JavaScript. `tests/vectors/` holds the cases they must pass. The globals
// (Host, Config, Http, Shape, PluginError) come from the polyplug JS SDK:
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

import { configJson, JsonValue, JsonWriter, MAX_SAFE_INTEGER, Result } from "@polyplug/as-sdk";

const INTEGER = "an integer in 0..=9007199254740991";

/** A discount rule from the `rules` config value. -1 marks an absent number. */
class Rule {
  id: string = "";
  percent: i64 = -1;
  amountOff: i64 = -1;
  tag: string | null = null;
  minQuantity: i64 = -1;

  matches(line: Line): bool {
    const tag = this.tag;
    return (tag == null || line.tags.includes(tag)) && (this.minQuantity < 0 || line.quantity >= this.minQuantity);
  }
}

class Line {
  sku: string = "";
  quantity: i64 = 0;
  unitPrice: i64 = 0;
  tags: string[] = [];
  subtotal: i64 = 0;
}

class PricedLine {
  discount: i64 = 0;
  applied: string[] = [];
}

/**
 * Prices a cart: per line `subtotal = quantity * unit_price`, minus the
 * discounts of the matching config rules (capped at the subtotal), then the
 * cart's sums. All arithmetic is exact i64: every factor is at most 2^53-1
 * and each product is bounds-checked before it is formed.
 */
export function applyDiscounts(input: JsonValue): Result<JsonWriter> {
  // Everything the input alone decides is checked before the rules are
  // read: when both are malformed, the contract reports the input.
  const cart = input.get("cart");
  if (cart == null || cart.asObject() == null) return invalidInput<JsonWriter>("`cart` must be an object");
  const currency = cart.getString("currency");
  if (currency == null || !isCurrencyCode(currency)) {
    return invalidInput<JsonWriter>("`cart.currency` must be three ASCII letters A-Z");
  }
  const items = cart.getArray("lines");
  if (items == null) return invalidInput<JsonWriter>("`cart.lines` must be an array");
  const lines: Line[] = [];
  let subtotal: i64 = 0;
  for (let i = 0; i < items.length; i++) {
    const line = readLine(items[i], `cart.lines[${i}]`);
    if (!line.isOk) return line.forward<JsonWriter>();
    subtotal += line.value.subtotal;
    if (subtotal > MAX_SAFE_INTEGER) return invalidInput<JsonWriter>("the cart subtotal exceeds 2^53-1");
    lines.push(line.value);
  }

  // Read on every call, even for a cart with no lines, so that malformed
  // rules never go unnoticed.
  const rules = readRules();
  if (!rules.isOk) return rules.forward<JsonWriter>();

  const out = new JsonWriter().beginObject().key("currency").string(currency).key("lines").beginArray();
  let discount: i64 = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const priced = priceLine(line, rules.value, `cart.lines[${i}]`);
    if (!priced.isOk) return priced.forward<JsonWriter>();
    const p = priced.value;
    discount += p.discount;

    out.beginObject().key("sku").string(line.sku);
    out.key("subtotal").integer(line.subtotal).key("discount").integer(p.discount).key("total").integer(line.subtotal - p.discount);
    out.key("applied").beginArray();
    for (let r = 0; r < p.applied.length; r++) out.string(p.applied[r]);
    out.endArray().endObject();
  }
  out.endArray();
  out.key("subtotal").integer(subtotal).key("discount").integer(discount).key("total").integer(subtotal - discount);
  return Result.ok(out.endObject());
}

function priceLine(line: Line, rules: Rule[], at: string): Result<PricedLine> {
  const priced = new PricedLine();
  // Contributions are never negative, so capping the running sum at the
  // subtotal gives the same result as capping the exact total.
  let discount: i64 = 0;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i];
    if (!rule.matches(line)) continue;
    priced.applied.push(rule.id);
    if (rule.percent >= 0) {
      // subtotal * percent <= (2^53-1) * 100 < 2^63
      discount = min(discount + (line.subtotal * rule.percent) / 100, line.subtotal);
    }
    if (rule.amountOff >= 0) {
      if (rule.amountOff > 0 && line.quantity > MAX_SAFE_INTEGER / rule.amountOff) {
        return invalidInput<PricedLine>(`\`${at}\`: amount_off * quantity of rule \`${rule.id}\` exceeds 2^53-1`);
      }
      discount = min(discount + rule.amountOff * line.quantity, line.subtotal);
    }
  }
  priced.discount = discount;
  return Result.ok(priced);
}

function readLine(value: JsonValue, at: string): Result<Line> {
  if (value.asObject() == null) return invalidInput<Line>(`\`${at}\` must be an object`);
  const line = new Line();
  const sku = value.getString("sku");
  if (sku == null) return invalidInput<Line>(`\`${at}.sku\` must be a string`);
  line.sku = sku;
  line.quantity = value.getInteger("quantity");
  if (line.quantity < 0) return invalidInput<Line>(`\`${at}.quantity\` must be ${INTEGER}`);
  line.unitPrice = value.getInteger("unit_price");
  if (line.unitPrice < 0) return invalidInput<Line>(`\`${at}.unit_price\` must be ${INTEGER}`);
  if (line.unitPrice > 0 && line.quantity > MAX_SAFE_INTEGER / line.unitPrice) {
    return invalidInput<Line>(`\`${at}\`: quantity * unit_price exceeds 2^53-1`);
  }
  line.subtotal = line.quantity * line.unitPrice;

  const tags = value.get("tags");
  if (tags != null) {
    const items = tags.asArray();
    if (items == null) return invalidInput<Line>(`\`${at}.tags\` must be an array of strings`);
    for (let i = 0; i < items.length; i++) {
      const tag = items[i].asString();
      if (tag == null) return invalidInput<Line>(`\`${at}.tags[${i}]\` must be a string`);
      line.tags.push(tag);
    }
  }
  return Result.ok(line);
}

/** The `rules` config value; absent means no rules. */
function readRules(): Result<Rule[]> {
  const parsed = configJson("rules");
  if (parsed == null) return Result.ok<Rule[]>([]);
  if (!parsed.isOk) return parsed.forward<Rule[]>();
  const items = parsed.value.asArray();
  if (items == null) return invalidConfig<Rule[]>("config `rules` must be a JSON array of rule objects");

  const rules: Rule[] = [];
  for (let i = 0; i < items.length; i++) {
    const rule = readRule(items[i], `rules[${i}]`);
    if (!rule.isOk) return rule.forward<Rule[]>();
    rules.push(rule.value);
  }
  return Result.ok(rules);
}

function readRule(value: JsonValue, at: string): Result<Rule> {
  if (value.asObject() == null) return invalidConfig<Rule>(`config \`${at}\` must be an object`);
  const rule = new Rule();
  const id = value.getString("id");
  if (id == null) return invalidConfig<Rule>(`config \`${at}.id\` must be a string`);
  rule.id = id;

  if (value.get("percent") != null) {
    rule.percent = value.getInteger("percent");
    if (rule.percent < 0 || rule.percent > 100) {
      return invalidConfig<Rule>(`config \`${at}.percent\` must be an integer in 0..=100`);
    }
  }
  if (value.get("amount_off") != null) {
    rule.amountOff = value.getInteger("amount_off");
    if (rule.amountOff < 0) return invalidConfig<Rule>(`config \`${at}.amount_off\` must be ${INTEGER}`);
  }
  if (value.get("tag") != null) {
    rule.tag = value.getString("tag");
    if (rule.tag == null) return invalidConfig<Rule>(`config \`${at}.tag\` must be a string`);
  }
  if (value.get("min_quantity") != null) {
    rule.minQuantity = value.getInteger("min_quantity");
    if (rule.minQuantity < 0) return invalidConfig<Rule>(`config \`${at}.min_quantity\` must be ${INTEGER}`);
  }
  return Result.ok(rule);
}

/** Exactly three ASCII letters `A`-`Z` (the contract's currency code). */
export function isCurrencyCode(code: string): bool {
  if (code.length != 3) return false;
  for (let i = 0; i < 3; i++) {
    const c = code.charCodeAt(i);
    if (c < 0x41 || c > 0x5a) return false;
  }
  return true;
}

function invalidInput<T>(message: string): Result<T> {
  return Result.err<T>("invalid_input", message);
}

function invalidConfig<T>(message: string): Result<T> {
  return Result.err<T>("invalid_config", message);
}

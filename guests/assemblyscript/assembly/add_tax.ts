import { configJson, JsonValue, JsonWriter, MAX_SAFE_INTEGER, Result } from "@polyplug/as-sdk";
import { isCurrencyCode } from "./apply_discounts";

const INTEGER = "an integer in 0..=9007199254740991";

/** 100% in basis points: the highest rate `tax_rate_bp` may hold. */
export const MAX_RATE_BP: i64 = 10000;

class PricedLine {
  sku: string = "";
  subtotal: i64 = 0;
  discount: i64 = 0;
  total: i64 = 0;
  applied: string[] = [];
}

/** The rate as a Result needs a reference type. */
class Rate {
  constructor(public readonly basisPoints: i64) {}
}

/**
 * Takes `apply_discounts`' output as it is and adds the tax on the cart
 * total, rounding halves up, at the config's `tax_rate_bp`.
 */
export function addTax(input: JsonValue): Result<JsonWriter> {
  // Everything the input alone decides is checked before the rate is
  // read: when both are malformed, the contract reports the input.
  if (input.asObject() == null) return invalidInput<JsonWriter>("the input must be an object");
  const currency = input.getString("currency");
  if (currency == null || !isCurrencyCode(currency)) {
    return invalidInput<JsonWriter>("`currency` must be three ASCII letters A-Z");
  }
  const items = input.getArray("lines");
  if (items == null) return invalidInput<JsonWriter>("`lines` must be an array");
  const lines: PricedLine[] = [];
  // Held at 2^53 once past 2^53-1, where no sum can match the cart's
  // amount; so the sums never overflow.
  let lineSubtotals: i64 = 0;
  let lineDiscounts: i64 = 0;
  for (let i = 0; i < items.length; i++) {
    const line = readLine(items[i], `lines[${i}]`);
    if (!line.isOk) return line.forward<JsonWriter>();
    lines.push(line.value);
    lineSubtotals = min(lineSubtotals + line.value.subtotal, MAX_SAFE_INTEGER + 1);
    lineDiscounts = min(lineDiscounts + line.value.discount, MAX_SAFE_INTEGER + 1);
  }
  const subtotal = input.getInteger("subtotal");
  const discount = input.getInteger("discount");
  const total = input.getInteger("total");
  if (subtotal < 0 || discount < 0 || total < 0) {
    return invalidInput<JsonWriter>(`\`subtotal\`, \`discount\` and \`total\` must be ${INTEGER}`);
  }
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!addsUp(line.subtotal, line.discount, line.total)) {
      return invalidInput<JsonWriter>(
        `\`lines[${i}]\`: total ${line.total} is not subtotal ${line.subtotal} - discount ${line.discount}`,
      );
    }
  }
  if (lineSubtotals != subtotal || lineDiscounts != discount || !addsUp(subtotal, discount, total)) {
    return invalidInput<JsonWriter>("the cart's subtotal, discount and total are not the sums of its lines'");
  }

  const rate = readRate();
  if (!rate.isOk) return rate.forward<JsonWriter>();
  const bp = rate.value.basisPoints;
  // Halves round up. total * rate can pass 2^63; with total = q*10000 + r
  // it is never formed, and every term stays below 2^53.
  const q = total / 10000;
  const r = total % 10000;
  const tax = q * bp + (r * bp + 5000) / 10000;
  const totalWithTax = total + tax; // tax <= total: no overflow
  if (totalWithTax > MAX_SAFE_INTEGER) {
    return invalidInput<JsonWriter>(`total ${total} plus tax ${tax} exceeds 2^53-1`);
  }

  const out = new JsonWriter().beginObject().key("currency").string(currency).key("lines").beginArray();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    out.beginObject().key("sku").string(line.sku);
    out.key("subtotal").integer(line.subtotal).key("discount").integer(line.discount).key("total").integer(line.total);
    out.key("applied").beginArray();
    for (let a = 0; a < line.applied.length; a++) out.string(line.applied[a]);
    out.endArray().endObject();
  }
  out.endArray();
  out.key("subtotal").integer(subtotal).key("discount").integer(discount).key("total").integer(total);
  out.key("tax_rate_bp").integer(bp).key("tax").integer(tax).key("total_with_tax").integer(totalWithTax);
  return Result.ok(out.endObject());
}

function addsUp(subtotal: i64, discount: i64, total: i64): bool {
  return discount <= subtotal && total == subtotal - discount;
}

function readLine(value: JsonValue, at: string): Result<PricedLine> {
  if (value.asObject() == null) return invalidInput<PricedLine>(`\`${at}\` must be an object`);
  const line = new PricedLine();
  const sku = value.getString("sku");
  if (sku == null) return invalidInput<PricedLine>(`\`${at}.sku\` must be a string`);
  line.sku = sku;
  line.subtotal = value.getInteger("subtotal");
  line.discount = value.getInteger("discount");
  line.total = value.getInteger("total");
  if (line.subtotal < 0 || line.discount < 0 || line.total < 0) {
    return invalidInput<PricedLine>(`\`${at}\`: \`subtotal\`, \`discount\` and \`total\` must be ${INTEGER}`);
  }
  const applied = value.getArray("applied");
  if (applied == null) return invalidInput<PricedLine>(`\`${at}.applied\` must be an array of strings`);
  for (let i = 0; i < applied.length; i++) {
    const id = applied[i].asString();
    if (id == null) return invalidInput<PricedLine>(`\`${at}.applied[${i}]\` must be a string`);
    line.applied.push(id);
  }
  return Result.ok(line);
}

/**
 * The config value `tax_rate_bp`, which must be set: a tax step that
 * silently taxes nothing is a misconfiguration.
 */
function readRate(): Result<Rate> {
  const parsed = configJson("tax_rate_bp");
  if (parsed == null) return Result.err<Rate>("invalid_config", "config `tax_rate_bp` is not set");
  if (!parsed.isOk) return parsed.forward<Rate>();
  const bp = parsed.value.asInteger();
  if (bp < 0 || bp > MAX_RATE_BP) {
    return Result.err<Rate>("invalid_config", `config \`tax_rate_bp\` must be an integer in 0..=${MAX_RATE_BP}`);
  }
  return Result.ok(new Rate(bp));
}

function invalidInput<T>(message: string): Result<T> {
  return Result.err<T>("invalid_input", message);
}

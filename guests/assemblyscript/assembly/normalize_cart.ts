import { JsonValue, JsonWriter, MAX_SAFE_INTEGER, Result } from "@polyplug/as-sdk";
import { isCurrencyCode } from "./apply_discounts";
import { asciiLower, asciiUpper, compareScalars, trimWhiteSpace } from "./text";

const INTEGER = "an integer in 0..=9007199254740991";

class NormalLine {
  sku: string = "";
  quantity: i64 = 0;
  unitPrice: i64 = 0;
  tags: string[] = [];
}

/**
 * Cleans a cart as a shop front sends it into `apply_discounts`' input:
 * SKUs trimmed and uppercased, quantity-0 lines dropped, lines of one SKU
 * merged (`price_conflict` if their unit prices differ), tags trimmed,
 * lowercased, deduplicated and sorted, the currency trimmed and uppercased.
 */
export function normalizeCart(input: JsonValue): Result<JsonWriter> {
  const cart = input.get("cart");
  if (cart == null || cart.asObject() == null) return invalidInput<JsonWriter>("`cart` must be an object");
  const given = cart.getString("currency");
  if (given == null) return invalidInput<JsonWriter>("`cart.currency` must be a string");
  const currency = asciiUpper(trimWhiteSpace(given));
  if (!isCurrencyCode(currency)) {
    return invalidInput<JsonWriter>("`cart.currency` must be three letters A-Z once trimmed and uppercased");
  }
  const items = cart.getArray("lines");
  if (items == null) return invalidInput<JsonWriter>("`cart.lines` must be an array");
  // Every line is checked, quantity 0 or not, before any is merged.
  const normalized: NormalLine[] = [];
  for (let i = 0; i < items.length; i++) {
    const line = readLine(items[i], `cart.lines[${i}]`);
    if (!line.isOk) return line.forward<JsonWriter>();
    normalized.push(line.value);
  }

  const lines: NormalLine[] = [];
  const position = new Map<string, i32>();
  // A price conflict is reported only if nothing in the input is invalid,
  // so the first one waits until every quantity has been summed.
  let conflict: string | null = null;
  for (let i = 0; i < normalized.length; i++) {
    const line = normalized[i];
    if (line.quantity == 0) continue;
    if (!position.has(line.sku)) {
      position.set(line.sku, lines.length);
      lines.push(line);
      continue;
    }
    const merged = lines[position.get(line.sku)];
    if (merged.unitPrice != line.unitPrice && conflict == null) {
      conflict = `sku \`${line.sku}\` comes at unit prices ${merged.unitPrice} and ${line.unitPrice}`;
    }
    merged.quantity += line.quantity; // both are at most 2^53-1: no overflow
    if (merged.quantity > MAX_SAFE_INTEGER) {
      return invalidInput<JsonWriter>(`sku \`${line.sku}\`: the merged quantity exceeds 2^53-1`);
    }
    for (let t = 0; t < line.tags.length; t++) merged.tags.push(line.tags[t]);
  }
  if (conflict != null) return Result.err<JsonWriter>("price_conflict", conflict);

  const out = new JsonWriter().beginObject().key("cart").beginObject();
  out.key("currency").string(currency).key("lines").beginArray();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    out.beginObject().key("sku").string(line.sku);
    out.key("quantity").integer(line.quantity).key("unit_price").integer(line.unitPrice);
    out.key("tags").beginArray();
    const tags = line.tags.sort(compareScalars);
    for (let t = 0; t < tags.length; t++) {
      if (t == 0 || tags[t] != tags[t - 1]) out.string(tags[t]);
    }
    out.endArray().endObject();
  }
  return Result.ok(out.endArray().endObject().endObject());
}

function readLine(value: JsonValue, at: string): Result<NormalLine> {
  if (value.asObject() == null) return invalidInput<NormalLine>(`\`${at}\` must be an object`);
  const line = new NormalLine();
  const sku = value.getString("sku");
  if (sku == null) return invalidInput<NormalLine>(`\`${at}.sku\` must be a string`);
  line.quantity = value.getInteger("quantity");
  if (line.quantity < 0) return invalidInput<NormalLine>(`\`${at}.quantity\` must be ${INTEGER}`);
  line.unitPrice = value.getInteger("unit_price");
  if (line.unitPrice < 0) return invalidInput<NormalLine>(`\`${at}.unit_price\` must be ${INTEGER}`);
  line.sku = asciiUpper(trimWhiteSpace(sku));
  if (line.sku.length == 0) return invalidInput<NormalLine>(`\`${at}.sku\` is empty once trimmed`);

  const tags = value.get("tags");
  if (tags != null) {
    const items = tags.asArray();
    if (items == null) return invalidInput<NormalLine>(`\`${at}.tags\` must be an array of strings`);
    for (let i = 0; i < items.length; i++) {
      const tag = items[i].asString();
      if (tag == null) return invalidInput<NormalLine>(`\`${at}.tags[${i}]\` must be a string`);
      const normal = asciiLower(trimWhiteSpace(tag));
      if (normal.length > 0) line.tags.push(normal);
    }
  }
  return Result.ok(line);
}

function invalidInput<T>(message: string): Result<T> {
  return Result.err<T>("invalid_input", message);
}

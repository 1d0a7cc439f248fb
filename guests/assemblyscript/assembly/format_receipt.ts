import { JsonValue, JsonWriter, Result } from "@polyplug/as-sdk";
import { MAX_RATE_BP } from "./add_tax";
import { isCurrencyCode } from "./apply_discounts";
import { firstScalars, scalarCount } from "./text";

const INTEGER = "an integer in 0..=9007199254740991";

/** Every row is this many Unicode scalar values, then `\n`. */
const WIDTH = 40;

/** Takes `add_tax`'s output as it is and prints a fixed-layout text receipt. */
export function formatReceipt(input: JsonValue): Result<JsonWriter> {
  if (input.asObject() == null) return invalidInput("the input must be an object");
  const currency = input.getString("currency");
  if (currency == null || !isCurrencyCode(currency)) return invalidInput("`currency` must be three ASCII letters A-Z");
  const items = input.getArray("lines");
  if (items == null) return invalidInput("`lines` must be an array");
  const subtotal = input.getInteger("subtotal");
  const discount = input.getInteger("discount");
  const tax = input.getInteger("tax");
  const totalWithTax = input.getInteger("total_with_tax");
  if (subtotal < 0 || discount < 0 || tax < 0 || totalWithTax < 0) {
    return invalidInput(`\`subtotal\`, \`discount\`, \`tax\` and \`total_with_tax\` must be ${INTEGER}`);
  }
  const rate = input.getInteger("tax_rate_bp");
  if (rate < 0 || rate > MAX_RATE_BP) return invalidInput(`\`tax_rate_bp\` must be an integer in 0..=${MAX_RATE_BP}`);

  const receipt = new Receipt(currency);
  for (let i = 0; i < items.length; i++) {
    const line = items[i];
    if (line.asObject() == null) return invalidInput(`\`lines[${i}]\` must be an object`);
    const sku = line.getString("sku");
    if (sku == null) return invalidInput(`\`lines[${i}].sku\` must be a string`);
    const lineSubtotal = line.getInteger("subtotal");
    const lineDiscount = line.getInteger("discount");
    if (lineSubtotal < 0 || lineDiscount < 0) {
      return invalidInput(`\`lines[${i}]\`: \`subtotal\` and \`discount\` must be ${INTEGER}`);
    }
    receipt.row(withoutControls(sku), receipt.amount(lineSubtotal, ""));
    if (lineDiscount > 0) receipt.row("  discount", receipt.amount(lineDiscount, "-"));
  }
  receipt.text += "-".repeat(WIDTH) + "\n";
  receipt.row("Subtotal", receipt.amount(subtotal, ""));
  receipt.row("Discount", receipt.amount(discount, discount > 0 ? "-" : ""));
  receipt.row(`Tax ${decimal(rate, 2)}%`, receipt.amount(tax, ""));
  receipt.row("Total", receipt.amount(totalWithTax, ""));
  return Result.ok(new JsonWriter().beginObject().key("receipt").string(receipt.text).endObject());
}

class Receipt {
  text: string = "";
  decimals: i32;

  constructor(public readonly currency: string) {
    this.decimals = decimalsOf(currency);
  }

  /** `minor` units as a decimal, then the currency: `-3.99 EUR`. */
  amount(minor: i64, sign: string): string {
    return `${sign}${decimal(minor, this.decimals)} ${this.currency}`;
  }

  /**
   * `label` left, `amount` (ASCII) right, WIDTH scalar values in all; a
   * label that leaves no space before the amount is cut with `…`.
   */
  row(label: string, amount: string): void {
    const room = WIDTH - 1 - amount.length;
    let width = scalarCount(label);
    if (width > room) {
      label = firstScalars(label, room - 1) + "\u2026";
      width = room;
    }
    this.text += label + " ".repeat(WIDTH - width - amount.length) + amount + "\n";
  }
}

/**
 * Each control character (category Cc) as U+FFFD, so that it cannot break
 * the layout. Cc is all in the BMP and no surrogate is in it, so UTF-16
 * units will do.
 */
function withoutControls(text: string): string {
  let out = "";
  let copied = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x1f && (c < 0x7f || c > 0x9f)) continue;
    out += text.substring(copied, i) + "\uFFFD";
    copied = i + 1;
  }
  return out + text.substring(copied);
}

/** The contract's table of decimals per currency (from ISO 4217). */
function decimalsOf(currency: string): i32 {
  const none = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(" ");
  if (none.includes(currency)) return 0;
  if ("BHD IQD JOD KWD LYD OMR TND".split(" ").includes(currency)) return 3;
  if (currency == "CLF" || currency == "UYW") return 4;
  return 2;
}

/** `value` with `decimals` digits after the point: `decimal(5, 2)` is `0.05`. */
function decimal(value: i64, decimals: i32): string {
  let digits = value.toString();
  if (decimals == 0) return digits;
  if (digits.length <= decimals) digits = "0".repeat(decimals + 1 - digits.length) + digits;
  const point = digits.length - decimals;
  return `${digits.substring(0, point)}.${digits.substring(point)}`;
}

function invalidInput(message: string): Result<JsonWriter> {
  return Result.err<JsonWriter>("invalid_input", message);
}

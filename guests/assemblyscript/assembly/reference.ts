// The polyplug reference functions (docs/contract.md, section 5).
// Each export hands its logic to the SDK's `run`, which parses the input,
// writes the output and reports contract errors.
import { run } from "@polyplug/as-sdk";
import { addTax } from "./add_tax";
import { analyzeText } from "./analyze_text";
import { applyDiscounts } from "./apply_discounts";
import { fetchJson } from "./fetch_json";
import { formatReceipt } from "./format_receipt";
import { greet as greeting } from "./greet";
import { normalizeCart } from "./normalize_cart";
import { tally as tallyHandler, tallyCas } from "./tally";

export function greet(): i32 {
  return run(greeting);
}

export function apply_discounts(): i32 {
  return run(applyDiscounts);
}

export function analyze_text(): i32 {
  return run(analyzeText);
}

export function fetch_json(): i32 {
  return run(fetchJson);
}

export function normalize_cart(): i32 {
  return run(normalizeCart);
}

export function add_tax(): i32 {
  return run(addTax);
}

export function format_receipt(): i32 {
  return run(formatReceipt);
}

export function tally(): i32 {
  return run(tallyHandler);
}

export function tally_cas(): i32 {
  return run(tallyCas);
}

// The polyplug reference functions (docs/contract.md, section 5).
// Each export hands its logic to the SDK's `run`, which parses the input,
// writes the output and reports contract errors.
import { run } from "@polyplug/as-sdk";
import { analyzeText } from "./analyze_text";
import { applyDiscounts } from "./apply_discounts";
import { fetchJson } from "./fetch_json";
import { greet as greeting } from "./greet";

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

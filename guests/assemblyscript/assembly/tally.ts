import { counterValue, isCounter, JsonValue, JsonWriter, kv, KvCounter, MAX_SAFE_INTEGER, Result } from "@polyplug/as-sdk";

/** The input both functions take: `{"key": string, "by": integer}`. */
class TallyInput {
  constructor(
    public readonly key: string,
    public readonly by: i64,
  ) {}
}

function readInput(input: JsonValue): Result<TallyInput> {
  const key = input.getString("key");
  if (key == null) return Result.err<TallyInput>("invalid_input", "`key` must be a string");
  const by = input.getInteger("by");
  if (by < 0) return Result.err<TallyInput>("invalid_input", "`by` must be an integer in 0..=2^53-1");
  return Result.ok(new TallyInput(key, by));
}

function output(key: string, value: i64): Result<JsonWriter> {
  return Result.ok(new JsonWriter().beginObject().key("key").string(key).key("value").integer(value).endObject());
}

/**
 * `{"key", "by"}` → `{"key", "value"}`: adds `by` to the counter `key` in the
 * plugin's key-value store, in one atomic operation of the host. The store's
 * failures reach the caller with their `kv_*` codes.
 */
export function tally(input: JsonValue): Result<JsonWriter> {
  const parsed = readInput(input);
  if (!parsed.isOk) return parsed.forward<JsonWriter>();
  const counter: Result<KvCounter> = kv.increment(parsed.value.key, parsed.value.by);
  if (!counter.isOk) return counter.forward<JsonWriter>();
  return output(parsed.value.key, counter.value.value);
}

/**
 * `tally` done with a read and a compare-and-swap, retried until no other
 * writer came in between (docs/contract.md, section 5.9).
 */
export function tallyCas(input: JsonValue): Result<JsonWriter> {
  const parsed = readInput(input);
  if (!parsed.isOk) return parsed.forward<JsonWriter>();
  const key = parsed.value.key;
  const by = parsed.value.by;
  while (true) {
    const entry = kv.get(key);
    if (!entry.isOk) return entry.forward<JsonWriter>();
    let current: i64 = 0;
    if (entry.value.exists) {
      if (!isCounter(entry.value.value)) {
        return Result.err<JsonWriter>("kv_not_an_integer", `\`${key}\` does not hold an integer within ±(2^53-1)`);
      }
      current = counterValue(entry.value.value);
    }
    const next = current + by; // both within 2^53-1: no wrap
    if (next > MAX_SAFE_INTEGER) {
      return Result.err<JsonWriter>("kv_overflow", `\`${key}\`: ${current} + ${by} is past 2^53-1`);
    }
    const swap = kv.compareAndSwap(key, entry.value.version, new JsonWriter().integer(next));
    if (!swap.isOk) return swap.forward<JsonWriter>();
    if (swap.value.swapped) return output(key, next);
  }
  return unreachable();
}

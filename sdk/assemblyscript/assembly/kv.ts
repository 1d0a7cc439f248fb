// Key-value state kept by the host (docs/contract.md, section 8): values
// that outlive the call, the instance, new versions of the plugin and
// restarts of the host. Every function sends one request to the host's
// `polyplug_kv` and returns a `Result`: a refusal of the host is a failure
// whose code is the contract's `kv_*` code, so a handler that passes it on
// with `forward` fails with that code.
import { freeHost, fromHost, toHost } from "./extism";
import { parseJson } from "./json/parse";
import { JsonBool, JsonNull, JsonNumber, JsonValue, MAX_SAFE_INTEGER } from "./json/value";
import { JsonWriter } from "./json/writer";
import { Result } from "./result";

@external("extism:host/user", "polyplug_kv")
declare function polyplug_kv(request: u64): u64;

/** The most items one `kv.list` returns. */
export const KV_MAX_LIST_LIMIT: i32 = 1000;

/** A value and its version; `version` 0 (`exists` false) when the key is not set. */
export class KvEntry {
  constructor(
    public readonly value: JsonValue,
    public readonly version: u64,
  ) {}

  get exists(): bool {
    return this.version != 0;
  }
}

/** A write's outcome: the key's new version. */
export class KvWritten {
  constructor(public readonly version: u64) {}
}

/** Whether `kv.remove` found the key. */
export class KvDeleted {
  constructor(public readonly deleted: bool) {}
}

/** One key of a `kv.list` page. */
export class KvItem {
  constructor(
    public readonly key: string,
    public readonly version: u64,
  ) {}
}

/** Keys in key order; `cursor` is `null` on the last page. */
export class KvPage {
  constructor(
    public readonly items: KvItem[],
    public readonly cursor: string | null,
  ) {}
}

/**
 * How a `kv.compareAndSwap` went: swapped, and the new version; or not (another
 * writer got there first), and the key's current version (0: it does not
 * exist). A conflict is an answer, not a failure.
 */
export class KvSwap {
  constructor(
    public readonly swapped: bool,
    public readonly version: u64,
  ) {}
}

/** A counter after `kv.increment`. */
export class KvCounter {
  constructor(
    public readonly value: i64,
    public readonly version: u64,
  ) {}
}

export namespace kv {
  /** The value of `key` and its version; `exists` is false when it is not set. */
  export function get(key: string): Result<KvEntry> {
    const ok = send(request("get", key).endObject());
    if (!ok.isOk) return ok.forward<KvEntry>();
    return readEntry(ok.value);
  }

  /** Sets `key` to the document `value` holds; returns its new version. */
  export function set(key: string, value: JsonWriter): Result<KvWritten> {
    const ok = send(request("set", key).key("value").raw(value.toBytes()).endObject());
    if (!ok.isOk) return ok.forward<KvWritten>();
    const version = versionOf(ok.value.get("version"));
    if (version == 0) return unreadable<KvWritten>("`set` answered no version");
    return Result.ok(new KvWritten(version));
  }

  /**
   * Deletes `key`; `deleted` says whether it existed. (The store's `delete`:
   * `delete` is a keyword in AssemblyScript.)
   */
  export function remove(key: string): Result<KvDeleted> {
    const ok = send(request("delete", key).endObject());
    if (!ok.isOk) return ok.forward<KvDeleted>();
    const deleted = ok.value.get("deleted");
    if (deleted == null || !(deleted instanceof JsonBool)) {
      return unreadable<KvDeleted>("`delete` answered no `deleted`");
    }
    return Result.ok(new KvDeleted((<JsonBool>deleted).value));
  }

  /**
   * Up to `limit` (1 to `KV_MAX_LIST_LIMIT`; 0 for the host's default of
   * 100) keys starting with `prefix`, in key order, after `cursor` (`null`
   * for the first page, then the previous page's `cursor`).
   */
  export function list(prefix: string, cursor: string | null, limit: i32): Result<KvPage> {
    const writer = new JsonWriter().beginObject().key("op").string("list").key("prefix").string(prefix);
    if (cursor != null) writer.key("cursor").string(cursor);
    if (limit != 0) writer.key("limit").integer(limit);
    const ok = send(writer.endObject());
    if (!ok.isOk) return ok.forward<KvPage>();
    return readPage(ok.value);
  }

  /**
   * Writes `value` only if `key` still has version `expected` (0: only if it
   * does not exist). A value that changed and changed back has a new
   * version, so this detects it.
   */
  export function compareAndSwap(key: string, expected: u64, value: JsonWriter): Result<KvSwap> {
    const writer = request("cas", key).key("version").integer(<i64>expected);
    const ok = send(writer.key("value").raw(value.toBytes()).endObject());
    if (!ok.isOk) return ok.forward<KvSwap>();
    const swapped = ok.value.get("swapped");
    const version = ok.value.get("version");
    if (swapped == null || !(swapped instanceof JsonBool) || version == null || version.asInteger() < 0) {
      return unreadable<KvSwap>("`cas` answered no `swapped` and `version`");
    }
    return Result.ok(new KvSwap((<JsonBool>swapped).value, <u64>version.asInteger()));
  }

  /**
   * Adds `by` (negative to subtract) to the integer at `key` (absent counts
   * as 0), atomically, and returns the result. A value that is not an
   * integer is `kv_not_an_integer`; a result past ±(2^53-1) is `kv_overflow`
   * and changes nothing.
   */
  export function increment(key: string, by: i64): Result<KvCounter> {
    const ok = send(request("increment", key).key("by").integer(by).endObject());
    if (!ok.isOk) return ok.forward<KvCounter>();
    const value = ok.value.get("value");
    const version = versionOf(ok.value.get("version"));
    if (value == null || !isCounter(value) || version == 0) {
      return unreadable<KvCounter>("`increment` answered no integer `value` and `version`");
    }
    return Result.ok(new KvCounter(counterValue(value), version));
  }
}

/**
 * Whether `value` is an integer as the store's `increment` reads one:
 * written `-?(0|[1-9][0-9]*)`, within ±(2^53-1).
 */
export function isCounter(value: JsonValue): bool {
  if (!(value instanceof JsonNumber)) return false;
  const text = (<JsonNumber>value).lexeme;
  const first = text.charCodeAt(0) == 0x2d ? 1 : 0; // '-'
  if (text.length - first > 16 || text.length == first) return false;
  for (let i = first; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return false;
  }
  return digitsOf(text, first) <= MAX_SAFE_INTEGER;
}

/** The value of a number `isCounter` accepted. */
export function counterValue(value: JsonValue): i64 {
  const text = (<JsonNumber>value).lexeme;
  const negative = text.charCodeAt(0) == 0x2d;
  const magnitude = digitsOf(text, negative ? 1 : 0);
  return negative ? -magnitude : magnitude;
}

function digitsOf(text: string, first: i32): i64 {
  let magnitude: i64 = 0;
  for (let i = first; i < text.length; i++) magnitude = magnitude * 10 + (text.charCodeAt(i) - 0x30);
  return magnitude;
}

function request(op: string, key: string): JsonWriter {
  return new JsonWriter().beginObject().key("op").string(op).key("key").string(key);
}

/**
 * Sends one request to the host; the answer's `ok` result, or its error as a
 * failure. Both blocks are freed at once: a call may make up to
 * `max_kv_operations` requests, each answer up to `max_kv_value` bytes, and
 * Extism only resets its memory between calls.
 */
function send(request: JsonWriter): Result<JsonValue> {
  const requestBlock = toHost(request.toBytes());
  const answerBlock = polyplug_kv(requestBlock);
  freeHost(requestBlock);
  const answer = fromHost(answerBlock);
  freeHost(answerBlock);
  return readAnswer(answer);
}

/** `{"ok": <result>}` → the result (`JsonNull` for `null`); `{"error": {code, message}}` → a failure. */
export function readAnswer(answer: Uint8Array): Result<JsonValue> {
  const parsed = parseJson(answer, "kv_invalid_request", "the host's answer");
  if (!parsed.isOk) return parsed;
  const error = parsed.value.get("error");
  if (error != null) {
    const code = error.getString("code");
    const message = error.getString("message");
    if (code == null || code.length == 0 || message == null) {
      return unreadable<JsonValue>("an error without a code and message");
    }
    return Result.err<JsonValue>(code, message);
  }
  const ok = parsed.value.get("ok");
  if (ok == null) return unreadable<JsonValue>("neither `ok` nor `error`");
  return Result.ok<JsonValue>(ok);
}

export function readEntry(ok: JsonValue): Result<KvEntry> {
  if (ok.isNull) return Result.ok(new KvEntry(new JsonNull(), 0));
  const value = ok.get("value");
  const version = versionOf(ok.get("version"));
  if (value == null || version == 0) return unreadable<KvEntry>("`get` answered no `value` and `version`");
  return Result.ok(new KvEntry(value, version));
}

export function readPage(ok: JsonValue): Result<KvPage> {
  const items = ok.getArray("items");
  if (items == null) return unreadable<KvPage>("`list` answered no `items`");
  const keys = new Array<KvItem>();
  for (let i = 0; i < items.length; i++) {
    const key = items[i].getString("key");
    const version = versionOf(items[i].get("version"));
    if (key == null || version == 0) return unreadable<KvPage>("a `list` item without `key` and `version`");
    keys.push(new KvItem(key, version));
  }
  const cursor = ok.get("cursor");
  if (cursor != null && cursor.asString() == null) return unreadable<KvPage>("a `cursor` that is not a string");
  return Result.ok(new KvPage(keys, cursor == null ? null : cursor.asString()));
}

/** A version (1..=2^53-1); 0 when absent or malformed. */
function versionOf(value: JsonValue | null): u64 {
  if (value == null) return 0;
  const n = value.asInteger();
  return n <= 0 ? 0 : <u64>n;
}

function unreadable<T>(why: string): Result<T> {
  return Result.err<T>("kv_invalid_request", `the host's answer does not read: ${why}`);
}

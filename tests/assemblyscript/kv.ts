// A test plugin for the AssemblyScript SDK's `kv`: one export per function,
// its arguments as the input object, what it returned as the output, so
// tests/all/kv_languages.rs can check the whole API against the host. Built
// by `just build-guest-as` into target/guests/as-tests/kv.wasm.
import { counterValue, isCounter, JsonBool, JsonNumber, JsonValue, JsonWriter, kv, Result, run } from "@polyplug/as-sdk";

function key(input: JsonValue): string {
  const key = input.getString("key");
  return key == null ? "" : key;
}

/** The input's `value`, written back as JSON (numbers as written). */
function value(input: JsonValue): JsonWriter {
  const writer = new JsonWriter();
  const v = input.get("value");
  if (v != null) writeValue(writer, v);
  return writer;
}

function writeValue(writer: JsonWriter, v: JsonValue): void {
  if (v.isNull) {
    writer.nullValue();
  } else if (v instanceof JsonNumber) {
    writer.raw(Uint8Array.wrap(String.UTF8.encode((<JsonNumber>v).lexeme)));
  } else if (v.asString() != null) {
    writer.string(v.asString()!);
  } else if (v instanceof JsonBool) {
    writer.boolean((<JsonBool>v).value);
  } else {
    const items = v.asArray();
    if (items != null) {
      writer.beginArray();
      for (let i = 0; i < items.length; i++) writeValue(writer, items[i]);
      writer.endArray();
    } else {
      // Objects: this test only stores arrays and scalars.
      writer.beginObject().endObject();
    }
  }
}

function version(v: u64): Result<JsonWriter> {
  return Result.ok(new JsonWriter().beginObject().key("version").integer(<i64>v).endObject());
}

function set(input: JsonValue): Result<JsonWriter> {
  const written = kv.set(key(input), value(input));
  if (!written.isOk) return written.forward<JsonWriter>();
  return version(written.value.version);
}

function get(input: JsonValue): Result<JsonWriter> {
  const entry = kv.get(key(input));
  if (!entry.isOk) return entry.forward<JsonWriter>();
  if (!entry.value.exists) return Result.ok(new JsonWriter().nullValue());
  const out = new JsonWriter().beginObject().key("value");
  writeValue(out, entry.value.value);
  return Result.ok(out.key("version").integer(<i64>entry.value.version).endObject());
}

function remove(input: JsonValue): Result<JsonWriter> {
  const deleted = kv.remove(key(input));
  if (!deleted.isOk) return deleted.forward<JsonWriter>();
  return Result.ok(new JsonWriter().beginObject().key("deleted").boolean(deleted.value.deleted).endObject());
}

function list(input: JsonValue): Result<JsonWriter> {
  const prefix = input.getString("prefix");
  const limit = input.getInteger("limit");
  const page = kv.list(prefix == null ? "" : prefix, input.getString("cursor"), limit < 0 ? 0 : <i32>limit);
  if (!page.isOk) return page.forward<JsonWriter>();
  const out = new JsonWriter().beginObject().key("items").beginArray();
  const items = page.value.items;
  for (let i = 0; i < items.length; i++) {
    out.beginObject().key("key").string(items[i].key).key("version").integer(<i64>items[i].version).endObject();
  }
  out.endArray();
  const cursor = page.value.cursor;
  if (cursor != null) out.key("cursor").string(cursor);
  return Result.ok(out.endObject());
}

function cas(input: JsonValue): Result<JsonWriter> {
  const expected = input.getInteger("version");
  const swap = kv.compareAndSwap(key(input), expected < 0 ? 0 : <u64>expected, value(input));
  if (!swap.isOk) return swap.forward<JsonWriter>();
  return Result.ok(
    new JsonWriter()
      .beginObject()
      .key("swapped")
      .boolean(swap.value.swapped)
      .key("version")
      .integer(<i64>swap.value.version)
      .endObject(),
  );
}

function increment(input: JsonValue): Result<JsonWriter> {
  const by = input.get("by");
  const counter = kv.increment(key(input), by != null && isCounter(by) ? counterValue(by) : 0);
  if (!counter.isOk) return counter.forward<JsonWriter>();
  return Result.ok(
    new JsonWriter()
      .beginObject()
      .key("value")
      .integer(counter.value.value)
      .key("version")
      .integer(<i64>counter.value.version)
      .endObject(),
  );
}

export function kv_set(): i32 {
  return run(set);
}
export function kv_get(): i32 {
  return run(get);
}
export function kv_remove(): i32 {
  return run(remove);
}
export function kv_list(): i32 {
  return run(list);
}
export function kv_cas(): i32 {
  return run(cas);
}
export function kv_increment(): i32 {
  return run(increment);
}

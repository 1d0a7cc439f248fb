// The `Kv` global, one function per export: each takes its arguments as
// the input object and returns what `Kv` returned, so tests/all/js.rs can
// check what reaches the store and what comes back (BigInts, text kept as
// written, pages, conflicts, error codes).

const input = () => Host.input(Shape.any());

export function set() {
  const { key, value } = input();
  return { version: Kv.set(key, value) };
}

export function set_verbatim() {
  const { key, text } = input();
  return { version: Kv.set(key, Json.verbatim(text)) };
}

export function set_undefined() {
  return Kv.set(input().key, undefined);
}

export function get() {
  return Kv.get(input().key);
}

export function get_count() {
  return Kv.get(input().key, Shape.int());
}

export function remove() {
  return { deleted: Kv.delete(input().key) };
}

export function list() {
  return Kv.list(input());
}

export function cas() {
  const { key, version, value } = input();
  return Kv.cas(key, version, value);
}

export function increment() {
  const { key, by } = input();
  return Kv.increment(key, by);
}

// The store's refusal, caught: its code and the message, as values.
export function caught() {
  try {
    Kv.increment(input().key, 1);
    return null;
  } catch (error) {
    return { name: error.name, code: error.code, is_plugin_error: error instanceof PluginError };
  }
}

// The JS SDK's features, one export each, for tests/all/js.rs. Built by
// `just build-guest-js` into target/guests/js-tests/features.wasm.

export function throws() {
  throw new Error("the sky fell: ünïcödé 🙃");
}

export function throws_plugin_error() {
  throw new PluginError("out_of_stock", "sku A-1 has none left");
}

export function rejects() {
  return Promise.reject(new PluginError("rejected", "the promise was rejected"));
}

export async function async_sum() {
  const { values } = Host.input(Shape.object({ values: Shape.array(Shape.int()) }));
  let total = 0;
  for (const value of values) {
    total += await new Promise((resolve) => resolve(value));
  }
  return { total };
}

export async function async_throws() {
  await null;
  throw new Error("thrown after an await");
}

export function fetch_text() {
  const { url } = Host.input(Shape.object({ url: Shape.string() }));
  const response = Http.request(url);
  return { status: response.status, text: response.text() };
}

// Config values are the plugin's; the var store keeps a count per instance.
export function count_visits() {
  const greeting = Config.get("greeting") ?? "(no greeting)";
  const visits = Number(Var.getString("visits") ?? "0") + 1;
  Var.set("visits", String(visits));
  return { greeting, visits };
}

export function logs() {
  const { text } = Host.input(Shape.object({ text: Shape.string() }));
  console.log("console.log says", text, { n: 1 });
  console.warn("console.warn says", text);
  console.error("console.error says", text);
  return {};
}

// Unicode in and out: counts are Unicode scalar values, not UTF-16 units.
export function unicode() {
  const { text } = Host.input(Shape.object({ text: Shape.string() }));
  const bytes = new TextEncoder().encode(text);
  return {
    text,
    reversed: [...text].reverse().join(""),
    chars: [...text].length,
    bytes: bytes.length,
    round_trip: new TextDecoder().decode(bytes) === text,
  };
}

// Text output that is not JSON: the host must refuse it.
export function not_json() {
  Host.outputString("this is not JSON");
}

// Numbers from Math.random, drawn during the call.
export function random() {
  return { draws: [Math.random(), Math.random(), Math.random()] };
}

// What the top level saw of the clock and of Math.random: fixed at build time.
const builtAt = Date.now();
const builtWith = Math.random();
export function build_time() {
  return { now: builtAt, random: builtWith };
}

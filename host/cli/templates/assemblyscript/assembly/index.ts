// The `{{name}}` polyplug plugin: each exported function is one plugin
// function; it hands its logic to the SDK's `run`, which parses the input,
// writes the output and reports contract errors. tests/vectors/<function>/
// holds the cases `just test` checks.
import { JsonValue, JsonWriter, Result, run } from "@polyplug/as-sdk";

/** `{"name": "Ada"}` -> `{"greeting": "Hello, Ada!"}` */
function greeting(input: JsonValue): Result<JsonWriter> {
  const name = input.getString("name");
  if (name == null) return Result.err<JsonWriter>("invalid_input", "`name` must be a string");
  return Result.ok(new JsonWriter().beginObject().key("greeting").string(`Hello, ${name}!`).endObject());
}

export function greet(): i32 {
  return run(greeting);
}

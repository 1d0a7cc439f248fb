import { JsonValue, JsonWriter, Result } from "@polyplug/as-sdk";

/** `{"name": string}` → `{"greeting": "Hello, <name>!"}` */
export function greet(input: JsonValue): Result<JsonWriter> {
  const name = input.getString("name");
  if (name == null) return Result.err<JsonWriter>("invalid_input", "`name` must be a string");
  return Result.ok(new JsonWriter().beginObject().key("greeting").string(`Hello, ${name}!`).endObject());
}

import { configBytes, readInput, setError, setOutput } from "./extism";
import { parseJson } from "./json/parse";
import { JsonValue } from "./json/value";
import { JsonWriter } from "./json/writer";
import { Failure, Result } from "./result";

/** A plugin function: the parsed input in, the output document or a failure out. */
export type Handler = (input: JsonValue) => Result<JsonWriter>;

/**
 * Runs `handler` as the body of an exported plugin function and returns
 * the export's status code:
 *
 *     export function greet(): i32 {
 *       return run(greetHandler);
 *     }
 */
export function run(handler: Handler): i32 {
  const input = parseJson(readInput(), "invalid_input", "input");
  if (!input.isOk) return report(input.failure!);
  const result = handler(input.value);
  if (!result.isOk) return report(result.failure!);
  setOutput(result.value.toBytes());
  return 0;
}

/** Sets `failure` as the call's contract error; returns the status to exit with. */
export function report(failure: Failure): i32 {
  const error = new JsonWriter()
    .beginObject()
    .key("code")
    .string(failure.code)
    .key("message")
    .string(failure.message)
    .endObject();
  setError(error.toBytes());
  return 1;
}

/**
 * The plugin config value `key`, or `null` when it is not set. Extism
 * cannot tell an empty value from a missing one: both read as `null`.
 */
export function config(key: string): string | null {
  const bytes = configBytes(key);
  return bytes == null ? null : String.UTF8.decode(bytes.buffer);
}

/**
 * The config value `key` parsed as JSON: `null` when it is not set, a
 * failure with code `invalid_config` when it is not JSON.
 */
export function configJson(key: string): Result<JsonValue> | null {
  const bytes = configBytes(key);
  if (bytes == null) return null;
  return parseJson(bytes, "invalid_config", `config \`${key}\``);
}

import { httpGet, JsonValue, JsonWriter, Result } from "@polyplug/as-sdk";

/**
 * `{"url": string}` → `{"status": <HTTP status>, "json": <body>}`, the body
 * embedded verbatim (less surrounding whitespace) once it parses as JSON.
 */
export function fetchJson(input: JsonValue): Result<JsonWriter> {
  const url = input.getString("url");
  if (url == null) return Result.err<JsonWriter>("invalid_input", "`url` must be a string");

  const response = httpGet(url);
  const body = response.jsonVerbatim();
  if (!body.isOk) return body.forward<JsonWriter>();

  return Result.ok(
    new JsonWriter().beginObject().key("status").integer(response.status).key("json").raw(body.value).endObject(),
  );
}

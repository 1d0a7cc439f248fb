import { httpGet, JsonValue, JsonWriter, parseJson, Result } from "@polyplug/as-sdk";

/**
 * `{"url": string}` → `{"status": <HTTP status>, "json": <body>}`, the body
 * embedded verbatim (less surrounding whitespace) once it parses as JSON.
 */
export function fetchJson(input: JsonValue): Result<JsonWriter> {
  const url = input.getString("url");
  if (url == null) return Result.err<JsonWriter>("invalid_input", "`url` must be a string");

  const response = httpGet(url);
  const body = trimJsonWhitespace(response.body);
  const parsed = parseJson(body, "upstream_error", `the response from \`${url}\``);
  if (!parsed.isOk) return parsed.forward<JsonWriter>();

  return Result.ok(
    new JsonWriter().beginObject().key("status").integer(response.status).key("json").raw(body).endObject(),
  );
}

function trimJsonWhitespace(bytes: Uint8Array): Uint8Array {
  let start = 0;
  let end = bytes.length;
  while (start < end && isJsonWhitespace(bytes[start])) start++;
  while (end > start && isJsonWhitespace(bytes[end - 1])) end--;
  return bytes.subarray(start, end);
}

function isJsonWhitespace(b: u8): bool {
  return b == 0x20 || b == 0x09 || b == 0x0a || b == 0x0d;
}

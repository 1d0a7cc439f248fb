import { http_status_code, httpRequest } from "./extism";
import { parseEmbeddable } from "./json/parse";
import { JsonWriter } from "./json/writer";
import { Result } from "./result";

export class HttpResponse {
  constructor(
    public readonly url: string,
    public readonly status: i32,
    public readonly body: Uint8Array,
  ) {}

  /**
   * The body as one JSON document to embed verbatim with `JsonWriter.raw`:
   * exactly as the server wrote it, minus the JSON whitespace around it, so
   * numbers and strings reach the caller unchanged. Anything else (not
   * UTF-8, not exactly one document, nested deeper than
   * `MAX_EMBEDDED_DEPTH`) fails with `upstream_error`. What the host checks
   * on output (duplicate keys, lone surrogates) is left to the host.
   */
  jsonVerbatim(): Result<Uint8Array> {
    const body = trimJsonWhitespace(this.body);
    const parsed = parseEmbeddable(body, "upstream_error", `the response from \`${this.url}\``);
    if (!parsed.isOk) return parsed.forward<Uint8Array>();
    return Result.ok(body);
  }
}

/**
 * GETs `url` through the host. Whether the plugin may reach the host is the
 * plugin's `allowed_hosts` setting; a refused request ends the call in the
 * host, so this only returns for responses (of any status).
 */
export function httpGet(url: string): HttpResponse {
  const request = new JsonWriter()
    .beginObject()
    .key("method")
    .string("GET")
    .key("url")
    .string(url)
    .key("headers")
    .beginObject()
    .endObject()
    .endObject();
  const body = httpRequest(request.toBytes());
  return new HttpResponse(url, http_status_code(), body);
}

/** `bytes` without the JSON whitespace (space, tab, LF, CR) around it. */
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

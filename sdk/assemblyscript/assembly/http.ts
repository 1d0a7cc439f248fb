import { http_status_code, httpRequest } from "./extism";
import { JsonWriter } from "./json/writer";

export class HttpResponse {
  constructor(
    public readonly status: i32,
    public readonly body: Uint8Array,
  ) {}
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
  return new HttpResponse(http_status_code(), body);
}

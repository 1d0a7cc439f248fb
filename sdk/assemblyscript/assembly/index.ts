// The polyplug SDK for AssemblyScript plugins: see ../README.md.
export { panic } from "./abort";
export { httpGet, HttpResponse } from "./http";
export { MAX_EMBEDDED_DEPTH, parseJson } from "./json/parse";
export {
  JsonArray,
  JsonBool,
  JsonNull,
  JsonNumber,
  JsonObject,
  JsonString,
  JsonValue,
  MAX_SAFE_INTEGER,
} from "./json/value";
export { JsonWriter } from "./json/writer";
export {
  counterValue,
  isCounter,
  kv,
  KV_MAX_LIST_LIMIT,
  KvCounter,
  KvDeleted,
  KvEntry,
  KvItem,
  KvPage,
  KvSwap,
  KvWritten,
} from "./kv";
export { log } from "./log";
export { config, configJson, Handler, report, run } from "./plugin";
export { Failure, Result } from "./result";

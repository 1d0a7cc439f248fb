// Types of the globals a polyplug JavaScript plugin sees. The runtime is
// QuickJS (ES2023, strict mode: the script is an ES module) inside the
// polyplug JS core; there is no Node or browser API beyond what is listed
// here. Implementation: sdk/js/core/src/prelude.js.
//
// Reference this file from an editor: /// <reference path="polyplug.d.ts" />

/** An error the host reports as `{"code": code, "message": message}` (CallError::Plugin). */
declare class PluginError extends Error {
  /** `code` must be snake_case: `invalid_input`, `invalid_config`, `upstream_error` or your own. */
  constructor(code: string, message: string);
  readonly code: string;
}

/** A check and conversion of parsed JSON, made with `Shape.*`. */
interface Shape<T> {
  readonly optional: boolean;
}

declare namespace Shape {
  function string(): Shape<string>;
  function boolean(): Shape<boolean>;
  /** Any JSON number, as a Number (`2.0` and `2e0` included). */
  function number(): Shape<number>;
  /**
   * The contract's integer: written without fraction or exponent, value in
   * 0..=2^53-1 (or `min..=max`); `-0` is 0. `2.0`, `2e0`, `-1`, `"2"` and 2^53 do not fit.
   */
  function int(options?: { min?: number; max?: number }): Shape<number>;
  function array<T>(item: Shape<T>): Shape<T[]>;
  /**
   * An object (never an array) with these fields, in this order; other
   * fields are ignored. A field is required unless wrapped in `optional`.
   */
  function object<F extends Record<string, Shape<unknown>>>(
    fields: F,
  ): Shape<{ [K in keyof F]: F[K] extends Shape<infer T> ? T : never }>;
  /** May be absent (then absent from the result); `null` still does not fit. */
  function optional<T>(shape: Shape<T>): Shape<T | undefined>;
  /** Anything, as `Json.parse` returns it. */
  function any(): Shape<unknown>;
}

/** JSON text embedded verbatim in output by `Json.stringify`. */
interface RawJson {
  readonly text: string;
}

declare namespace Json {
  /**
   * Parses one JSON document. Without a shape: like JSON.parse, except that
   * integers beyond 2^53-1 come back as exact BigInts. With a shape: checked
   * and converted; a mismatch throws an Error naming the field.
   */
  function parse(text: string): unknown;
  function parse<T>(text: string, shape: Shape<T>): T;
  /**
   * Canonical JSON (docs/contract.md, section 2): compact, keys in
   * insertion order, strings escaped as serde_json does, BigInts as digits,
   * RawJson verbatim. Note that JavaScript puts integer-like keys ("1")
   * before the others in every object.
   */
  function stringify(value: unknown): string;
  /** `text`, checked to be one JSON document nested at most `maxDepth` levels, trimmed. */
  function verbatim(text: string, maxDepth?: number): RawJson;
}

declare namespace Host {
  function inputBytes(): Uint8Array;
  function inputString(): string;
  /** The input document checked against `shape`; a mismatch is `invalid_input`. */
  function input<T>(shape: Shape<T>): T;
  function input(): unknown;
  function outputBytes(bytes: Uint8Array | ArrayBuffer): void;
  /** Writes `text` as UTF-8. */
  function outputString(text: string): void;
  /** Writes `value` as canonical JSON. An export's return value goes through this. */
  function output(value: unknown): void;
}

declare namespace Config {
  /** The plugin config value, or null when unset (Extism reads "" as unset). */
  function get(key: string): string | null;
  /** The config value parsed and checked against `shape` (`invalid_config` if it does not fit), or null when unset. */
  function json<T>(key: string, shape: Shape<T>): T | null;
  function json(key: string): unknown;
}

/** The plugin's variables: they persist across calls of one plugin instance. */
declare namespace Var {
  function get(key: string): Uint8Array | null;
  function getString(key: string): string | null;
  function set(key: string, value: string | Uint8Array | ArrayBuffer): void;
  function remove(key: string): void;
}

declare class HttpResponse {
  readonly status: number;
  /** Empty unless the host passes response headers to plugins. */
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
  /** The body as UTF-8 text; throws if it is not UTF-8. */
  text(): string;
  /** The body parsed as JSON (and checked against `shape`); `upstream_error` if it does not fit. */
  json<T>(shape: Shape<T>): T;
  json(): unknown;
  /** The body as one JSON document (nested at most 127 levels) to embed verbatim; `upstream_error` otherwise. */
  jsonVerbatim(): RawJson;
}

declare namespace Http {
  /**
   * Sends a request through the host: only hosts in the plugin's
   * `allowed_hosts` are reachable (others fail the call in the host). Any
   * status is a response.
   */
  function request(
    request: string | { url: string; method?: string; headers?: Record<string, string> },
    body?: string | Uint8Array | ArrayBuffer,
  ): HttpResponse;
}

/**
 * Key-value state the host keeps for the plugin (docs/contract.md, section
 * 8): it outlives the call, the instance, new versions of the plugin and
 * restarts. The operator grants a store (`kv = "default"`); keys are plain
 * names in the plugin's namespace. Values are any JSON value (BigInts for
 * integers beyond 2^53-1, `Json.verbatim` for text kept as written); every
 * write gives the key a new version, which `cas` checks. A refusal of the
 * store is thrown as a PluginError with its code (`kv_not_granted`,
 * `kv_key_too_large`, `kv_value_too_large`, `kv_namespace_full`,
 * `kv_too_many_operations`, `kv_not_an_integer`, `kv_overflow`,
 * `kv_unavailable`, `kv_invalid_request`); let through, it fails the call
 * with that code.
 */
declare const Kv: {
  /** The value of `key` and its version, or null when it is not set. */
  get(key: string): { value: unknown; version: number } | null;
  /** The same, the value checked against `shape`: `kv_invalid_value` if it does not fit. */
  get<T>(key: string, shape: Shape<T>): { value: T; version: number } | null;
  /** Sets `key` to `value`; returns its new version. */
  set(key: string, value: unknown): number;
  /** Deletes `key`; returns whether it existed. */
  delete(key: string): boolean;
  /**
   * Up to `limit` (1 to 1,000; default 100) keys starting with `prefix`, in
   * key order, after `cursor` (the previous page's; absent on the last page).
   */
  list(options?: { prefix?: string; cursor?: string; limit?: number }): {
    items: { key: string; version: number }[];
    cursor?: string;
  };
  /**
   * Writes `value` only if `key` still has `version` (0: only if it does not
   * exist). `swapped` false (another writer got there first) is an answer:
   * `version` is then the key's current one, 0 if none.
   */
  cas(key: string, version: number, value: unknown): { swapped: boolean; version: number };
  /**
   * Adds `by` (default 1; negative to subtract; within ±(2^53-1)) to the
   * integer at `key` (absent counts as 0), atomically. `kv_not_an_integer`
   * if the key holds something else, `kv_overflow` past ±(2^53-1).
   */
  increment(key: string, by?: number | bigint): { value: number; version: number };
};

/** Logs through the host: `log` and `info` at info level, the others at theirs. */
declare const console: {
  log(...values: unknown[]): void;
  info(...values: unknown[]): void;
  debug(...values: unknown[]): void;
  warn(...values: unknown[]): void;
  error(...values: unknown[]): void;
};

/** CommonJS: assign exported functions here instead of using `export`. */
declare const module: { exports: Record<string, unknown> };
declare const exports: Record<string, unknown>;

/** From Javy: UTF-8 only. */
declare class TextEncoder {
  readonly encoding: "utf-8";
  encode(input?: string): Uint8Array;
}

/** From Javy: UTF-8 only, no streaming. `ignoreBOM: false` (the default) drops a leading BOM. */
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  readonly encoding: "utf-8";
  decode(input?: ArrayBuffer | ArrayBufferView): string;
}

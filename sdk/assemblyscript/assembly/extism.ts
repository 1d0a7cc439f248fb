// Extism's host ABI (module `extism:host/env`), bound directly: offsets and
// lengths are u64 into the host-managed memory, copied in and out 8 bytes
// per call where possible. Blocks are mostly not freed one by one: Extism
// resets its memory before every call (`kv` frees its own, as one call may
// make a thousand requests). @extism/as-pdk declares the same imports, but a
// `file:` dependency's own dependencies are not installed by `npm ci`, and
// the pdk lacks `http_status_code` and writes `outputString` cut short.

@external("extism:host/env", "input_length")
declare function input_length(): u64;
@external("extism:host/env", "input_load_u8")
declare function input_load_u8(offset: u64): u8;
@external("extism:host/env", "input_load_u64")
declare function input_load_u64(offset: u64): u64;
@external("extism:host/env", "alloc")
declare function alloc(length: u64): u64;
@external("extism:host/env", "free")
declare function free(offset: u64): void;
@external("extism:host/env", "length")
declare function length(offset: u64): u64;
@external("extism:host/env", "load_u8")
declare function load_u8(offset: u64): u8;
@external("extism:host/env", "load_u64")
declare function load_u64(offset: u64): u64;
@external("extism:host/env", "store_u8")
declare function store_u8(offset: u64, value: u8): void;
@external("extism:host/env", "store_u64")
declare function store_u64(offset: u64, value: u64): void;
@external("extism:host/env", "output_set")
declare function output_set(offset: u64, length: u64): void;
@external("extism:host/env", "error_set")
declare function error_set(offset: u64): void;
@external("extism:host/env", "config_get")
declare function config_get(keyOffset: u64): u64;
@external("extism:host/env", "http_request")
declare function http_request(requestOffset: u64, bodyOffset: u64): u64;
@external("extism:host/env", "http_status_code")
export declare function http_status_code(): i32;
@external("extism:host/env", "log_debug")
declare function log_debug(offset: u64): void;
@external("extism:host/env", "log_info")
declare function log_info(offset: u64): void;
@external("extism:host/env", "log_warn")
declare function log_warn(offset: u64): void;
@external("extism:host/env", "log_error")
declare function log_error(offset: u64): void;

export enum LogLevel {
  Debug,
  Info,
  Warn,
  Error,
}

export function logMessage(level: LogLevel, message: string): void {
  const offset = stringToHost(message);
  switch (level) {
    case LogLevel.Debug:
      log_debug(offset);
      break;
    case LogLevel.Info:
      log_info(offset);
      break;
    case LogLevel.Warn:
      log_warn(offset);
      break;
    default:
      log_error(offset);
  }
}

/** The call's input bytes. */
export function readInput(): Uint8Array {
  const bytes = new Uint8Array(<i32>input_length());
  const ptr = bytes.dataStart;
  const n = <u64>bytes.length;
  let i: u64 = 0;
  for (; i + 8 <= n; i += 8) store<u64>(ptr + <usize>i, input_load_u64(i));
  for (; i < n; i++) store<u8>(ptr + <usize>i, input_load_u8(i));
  return bytes;
}

/** Copies `bytes` into a new block of host memory; returns its offset. */
export function toHost(bytes: Uint8Array): u64 {
  const n = <u64>bytes.length;
  const offset = alloc(n);
  const ptr = bytes.dataStart;
  let i: u64 = 0;
  for (; i + 8 <= n; i += 8) store_u64(offset + i, load<u64>(ptr + <usize>i));
  for (; i < n; i++) store_u8(offset + i, load<u8>(ptr + <usize>i));
  return offset;
}

/** `text` as UTF-8 in host memory (what Extism's string arguments expect). */
export function stringToHost(text: string): u64 {
  return toHost(Uint8Array.wrap(String.UTF8.encode(text)));
}

/** Frees the host memory block at `offset` (0 is no block). */
export function freeHost(offset: u64): void {
  if (offset != 0) free(offset);
}

/** Copies the host memory block at `offset` out; offset 0 reads as empty. */
export function fromHost(offset: u64): Uint8Array {
  const n = offset == 0 ? 0 : length(offset);
  const bytes = new Uint8Array(<i32>n);
  const ptr = bytes.dataStart;
  let i: u64 = 0;
  for (; i + 8 <= n; i += 8) store<u64>(ptr + <usize>i, load_u64(offset + i));
  for (; i < n; i++) store<u8>(ptr + <usize>i, load_u8(offset + i));
  return bytes;
}

export function setOutput(bytes: Uint8Array): void {
  output_set(toHost(bytes), <u64>bytes.length);
}

export function setError(bytes: Uint8Array): void {
  error_set(toHost(bytes));
}

/** The config value `key` as bytes, or `null` when the host has none. */
export function configBytes(key: string): Uint8Array | null {
  const offset = config_get(stringToHost(key));
  return offset == 0 ? null : fromHost(offset);
}

/** Sends an Extism HTTP request (JSON bytes, no body); returns the response body. */
export function httpRequest(request: Uint8Array): Uint8Array {
  return fromHost(http_request(toHost(request), 0));
}

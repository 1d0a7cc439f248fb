// The polyplug JavaScript SDK: the globals a plugin script sees
// (documented in sdk/js/polyplug.d.ts). Evaluated before the script; its
// value is the object the core drives: `init(native)` installs the globals
// over the Rust bindings, `register(namespace)` records the script's
// exports, `invoke(name)` runs one export.
(() => {
  "use strict";

  /** The Rust bindings (core/src/native.rs); set by `init`. */
  let native;
  /** The script's exports: its ES module namespace, then `module.exports`. */
  let exportSources = [];

  const MAX_INT = Number.MAX_SAFE_INTEGER; // 2^53-1, the contract's integer limit
  // The contract's integer lexeme: no fraction, no exponent.
  const INT_LEXEME = /^-?(?:0|[1-9][0-9]*)$/;
  const SNAKE_CASE = /^[a-z][a-z0-9_]*$/;

  // Decoding keeps a leading BOM: it is data, not a marker, in polyplug.
  const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

  /** An error the host reports as `{"code": code, "message": message}`. */
  class PluginError extends Error {
    constructor(code, message) {
      if (typeof code !== "string" || !SNAKE_CASE.test(code)) {
        throw new TypeError(`error code must be snake_case, found ${JSON.stringify(code)}`);
      }
      super(message);
      this.name = "PluginError";
      this.code = code;
    }
  }

  // ---------------------------------------------------------------- JSON

  /** A number as written in JSON text, so integer rules can see the lexeme. */
  class Lexeme {
    constructor(text) {
      this.text = text;
    }
  }

  /** JSON text embedded verbatim by `Json.stringify`. */
  class RawJson {
    constructor(text) {
      this.text = text;
    }
  }

  // QuickJS parses JSON (and runs a reviver) recursively, and on WASI it has
  // no stack check of its own: a document nested a few hundred levels deep
  // would exhaust the engine's wasm stack and trap the instance instead of
  // throwing. So no document may nest deeper than the host's own limit.
  const PARSE_DEPTH_LIMIT = 128;

  function checkNesting(text, limit) {
    if (native.nestsDeeper(text, limit)) throw new SyntaxError(`nested deeper than ${limit} levels`);
  }

  /**
   * Parses one JSON document (QuickJS's JSON.parse: strict RFC 8259) into
   * plain values, except that numbers stay `Lexeme`s: the reviver's
   * `context.source` is the number's text as written.
   */
  function parseTree(text) {
    checkNesting(text, PARSE_DEPTH_LIMIT);
    return JSON.parse(text, (key, value, context) =>
      typeof value === "number" ? new Lexeme(context.source) : value,
    );
  }

  /** A number's value from its text: integers beyond 2^53-1 as exact BigInts. */
  function numberOf(text) {
    const value = Number(text);
    return INT_LEXEME.test(text) && !Number.isSafeInteger(value) ? BigInt(text) : value;
  }

  /** Lexemes to numbers (`numberOf`). */
  function plain(tree) {
    if (tree instanceof Lexeme) return numberOf(tree.text);
    if (Array.isArray(tree)) return tree.map(plain);
    if (tree !== null && typeof tree === "object") {
      for (const key of Object.keys(tree)) tree[key] = plain(tree[key]);
    }
    return tree;
  }

  /** Canonical JSON (docs/contract.md, section 2). */
  function stringify(value) {
    const parts = [];
    write(value, parts);
    return parts.join("");
  }

  function write(value, parts) {
    switch (typeof value) {
      case "string":
        // QuickJS escapes exactly as serde_json does: `\"`, `\\`, `\b\f\n\r\t`,
        // other controls as lowercase `\u00xx`, everything else raw.
        parts.push(JSON.stringify(value));
        return;
      case "number":
        if (!Number.isFinite(value)) throw new TypeError(`${value} has no JSON form`);
        parts.push(String(value)); // -0 is "0"; integers below 1e21 are plain digits
        return;
      case "bigint":
      case "boolean":
        parts.push(String(value));
        return;
      case "object":
        break;
      default:
        throw new TypeError(`a ${typeof value} has no JSON form`);
    }
    if (value === null) {
      parts.push("null");
    } else if (value instanceof RawJson) {
      parts.push(value.text);
    } else if (typeof value.toJSON === "function") {
      write(value.toJSON(), parts);
    } else if (Array.isArray(value)) {
      parts.push("[");
      value.forEach((item, i) => {
        if (i > 0) parts.push(",");
        // As JSON.stringify does: a hole or a function in an array is null.
        write(item === undefined || typeof item === "function" ? null : item, parts);
      });
      parts.push("]");
    } else {
      parts.push("{");
      let first = true;
      for (const key of Object.keys(value)) {
        const field = value[key];
        if (field === undefined || typeof field === "function" || typeof field === "symbol") continue;
        if (!first) parts.push(",");
        first = false;
        parts.push(JSON.stringify(key), ":");
        write(field, parts);
      }
      parts.push("}");
    }
  }

  const Json = {
    /** Parses JSON; integers beyond 2^53-1 come back as BigInt. */
    parse(text, shape) {
      if (shape !== undefined) return shape.check(parseTree(text), "");
      checkNesting(text, PARSE_DEPTH_LIMIT);
      return JSON.parse(text, (key, value, context) =>
        typeof value === "number" ? numberOf(context.source) : value,
      );
    },
    stringify,
    /**
     * `text` as one JSON document to embed verbatim (leading and trailing
     * whitespace removed). Throws a SyntaxError if it is not one document or
     * nests deeper than `maxDepth`.
     */
    verbatim(text, maxDepth = PARSE_DEPTH_LIMIT) {
      checkNesting(text, Math.min(maxDepth, PARSE_DEPTH_LIMIT));
      JSON.parse(text);
      return new RawJson(text.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, ""));
    },
  };

  /**
   * Parses `text` with `shape`, reporting any failure as `code`: a syntax
   * error, a mismatch, or a document too deeply nested for the parser's
   * stack all mean the document is unusable.
   */
  function parseAs(text, shape, code, what) {
    try {
      return Json.parse(text, shape);
    } catch (error) {
      throw new PluginError(code, `${what}: ${error.message}`);
    }
  }

  // --------------------------------------------------------------- shapes

  class ShapeError extends Error {}

  function describe(tree) {
    if (tree instanceof Lexeme) return tree.text;
    if (Array.isArray(tree)) return "an array";
    if (tree === null) return "null";
    if (typeof tree === "object") return "an object";
    if (typeof tree === "string") {
      const shown = JSON.stringify(tree);
      return shown.length > 40 ? `a string ${shown.slice(0, 37)}..."` : `the string ${shown}`;
    }
    return String(tree);
  }

  function mismatch(path, expected, tree) {
    const where = path === "" ? "the document" : `\`${path}\``;
    return new ShapeError(`${where}: expected ${expected}, found ${describe(tree)}`);
  }

  /** A shape with one `check(tree, path)` that returns plain values. */
  const shape = (check) => ({ check, optional: false });

  const Shape = {
    string: () =>
      shape((tree, path) => {
        if (typeof tree === "string") return tree;
        throw mismatch(path, "a string", tree);
      }),
    boolean: () =>
      shape((tree, path) => {
        if (typeof tree === "boolean") return tree;
        throw mismatch(path, "true or false", tree);
      }),
    /** Any JSON number, as a Number. */
    number: () =>
      shape((tree, path) => {
        if (tree instanceof Lexeme) return Number(tree.text);
        throw mismatch(path, "a number", tree);
      }),
    /** The contract's integer: written without fraction or exponent, 0..=2^53-1 (or `min..=max`). */
    int: ({ min = 0, max = MAX_INT } = {}) =>
      shape((tree, path) => {
        if (tree instanceof Lexeme && INT_LEXEME.test(tree.text)) {
          const value = Number(tree.text);
          if (value >= min && value <= max) return value === 0 ? 0 : value; // -0 is 0
        }
        throw mismatch(path, `an integer in ${min}..=${max}`, tree);
      }),
    array: (item) =>
      shape((tree, path) => {
        if (!Array.isArray(tree)) throw mismatch(path, "an array", tree);
        return tree.map((element, i) => item.check(element, `${path}[${i}]`));
      }),
    /** An object with these fields (others are ignored), in this order. */
    object: (fields) =>
      shape((tree, path) => {
        if (tree === null || typeof tree !== "object" || Array.isArray(tree) || tree instanceof Lexeme) {
          throw mismatch(path, "an object", tree);
        }
        const result = {};
        for (const [key, field] of Object.entries(fields)) {
          const at = path === "" ? key : `${path}.${key}`;
          if (Object.prototype.hasOwnProperty.call(tree, key)) {
            result[key] = field.check(tree[key], at);
          } else if (!field.optional) {
            throw new ShapeError(`\`${at}\`: missing`);
          }
        }
        return result;
      }),
    /** May be absent; `null` is still not a value. */
    optional: (inner) => ({ ...inner, optional: true }),
    /** Anything, as `Json.parse` returns it. */
    any: () => shape((tree) => plain(tree)),
  };

  // ------------------------------------------------------------ host APIs

  const Host = {
    inputBytes: () => native.inputBytes(),
    inputString: () => native.inputString(),
    /** The input document, checked against `shape` (`invalid_input` if it does not fit). */
    input: (shape) => parseAs(Host.inputString(), shape, "invalid_input", "input"),
    outputBytes: (bytes) => native.output(bytes),
    outputString: (text) => native.output(text),
    /** Writes `value` as canonical JSON. */
    output: (value) => native.output(stringify(value)),
  };

  const Config = {
    /** The config value, or null when it is not set (Extism reads "" as not set). */
    get: (key) => native.configGet(key) ?? null,
    /** The config value parsed as JSON with `shape` (`invalid_config` if it does not fit), or null. */
    json(key, shape) {
      const text = Config.get(key);
      return text === null ? null : parseAs(text, shape, "invalid_config", `config \`${key}\``);
    },
  };

  const Var = {
    get: (key) => native.varGet(key) ?? null,
    getString(key) {
      const bytes = Var.get(key);
      return bytes === null ? null : utf8.decode(bytes);
    },
    set: (key, value) => native.varSet(key, value),
    remove: (key) => native.varRemove(key),
  };

  class Response {
    constructor({ status, headers, body }) {
      this.status = status;
      this.headers = headers;
      this.body = body;
    }
    text() {
      return utf8.decode(this.body);
    }
    /** The body as JSON (`upstream_error` if it is not), checked against `shape` if given. */
    json(shape) {
      return parseAs(this.#bodyText(), shape, "upstream_error", "response body");
    }
    /**
     * The body as one JSON document to embed verbatim in output (nested at
     * most 127 levels, so that it fits the host's limit of 128 inside an
     * output object); `upstream_error` otherwise.
     */
    jsonVerbatim() {
      try {
        return Json.verbatim(this.#bodyText(), 127);
      } catch (error) {
        throw new PluginError("upstream_error", `response body: ${error.message}`);
      }
    }
    #bodyText() {
      try {
        return this.text();
      } catch {
        throw new PluginError("upstream_error", "response body: not UTF-8");
      }
    }
  }

  const Http = {
    /**
     * Sends a request through the host (only to the plugin's `allowed_hosts`).
     * `request`: a URL, or `{url, method = "GET", headers = {}}`.
     */
    request(request, body) {
      const { url, method = "GET", headers = {} } = typeof request === "string" ? { url: request } : request;
      return new Response(native.httpRequest(url, method, headers, body));
    },
  };

  // ---------------------------------------------------------------- state

  /**
   * Sends one request to the host's key-value store (docs/contract.md,
   * section 8.3) and returns the answer's `ok` result; an `error` answer is
   * thrown as a PluginError with the store's code (`kv_not_granted`,
   * `kv_overflow`, ...), so an export that lets it through fails with it.
   */
  function kvSend(request) {
    const text = native.kv(stringify(request));
    // A stored value nests at most 127 levels; the answer wraps it in two
    // more (`{"ok":{"value":...}}`).
    checkNesting(text, PARSE_DEPTH_LIMIT + 2);
    const answer = JSON.parse(text, (key, value, context) =>
      typeof value === "number" ? new Lexeme(context.source) : value,
    );
    if (answer === null || typeof answer !== "object" || Array.isArray(answer)) {
      throw new PluginError("kv_invalid_request", `the host's answer does not read: ${text}`);
    }
    if ("error" in answer) {
      const { code, message } = plain(answer.error);
      throw new PluginError(code, message);
    }
    if (!("ok" in answer)) {
      throw new PluginError("kv_invalid_request", `the host's answer does not read: ${text}`);
    }
    return answer.ok;
  }

  /** A value as the JSON text a request carries; `undefined` has none. */
  function kvValue(value, what) {
    if (value === undefined) throw new TypeError(`${what}: undefined has no JSON form`);
    return new RawJson(stringify(value));
  }

  const Kv = {
    /**
     * `{value, version}`, or null when `key` is not set. With a shape, the
     * value is checked and converted (`kv_invalid_value` if it does not fit).
     */
    get(key, shape) {
      const found = kvSend({ op: "get", key });
      if (found === null) return null;
      const version = plain(found.version);
      if (shape === undefined) return { value: plain(found.value), version };
      try {
        return { value: shape.check(found.value, ""), version };
      } catch (error) {
        throw new PluginError("kv_invalid_value", `the value of ${JSON.stringify(key)}: ${error.message}`);
      }
    },
    /** Sets `key` to `value` (any JSON value); returns its new version. */
    set: (key, value) => plain(kvSend({ op: "set", key, value: kvValue(value, "Kv.set") })).version,
    /** Deletes `key`; returns whether it existed. */
    delete: (key) => kvSend({ op: "delete", key }).deleted,
    /** `{items: [{key, version}], cursor?}`: keys starting with `prefix`, after `cursor`, at most `limit`. */
    list: ({ prefix, cursor, limit } = {}) => plain(kvSend({ op: "list", prefix, cursor, limit })),
    /** Writes `value` only if `key` has `version` (0: does not exist); `{swapped, version}`. */
    cas: (key, version, value) => plain(kvSend({ op: "cas", key, version, value: kvValue(value, "Kv.cas") })),
    /** Adds `by` (a Number or BigInt, negative to subtract) atomically; `{value, version}`. */
    increment: (key, by = 1) => plain(kvSend({ op: "increment", key, by })),
  };

  function show(value) {
    if (typeof value === "string") return value;
    if (value instanceof Error) return value.stack ? `${value}\n${value.stack}` : String(value);
    if (value !== null && typeof value === "object") {
      try {
        return stringify(value);
      } catch {
        // cyclic or not JSON: fall through
      }
    }
    return String(value);
  }

  const log = (level) => (...args) => native.log(level, args.map(show).join(" "));
  const console = {
    log: log("info"),
    info: log("info"),
    debug: log("debug"),
    warn: log("warn"),
    error: log("error"),
  };

  // -------------------------------------------------------------- driving

  function init(bindings) {
    native = bindings;
    Object.assign(globalThis, { Host, Config, Var, Http, Kv, Json, Shape, PluginError, console });
    // Assigning keeps the property's attributes (writable, not enumerable).
    Math.random = function random() {
      return native.random();
    };
    // CommonJS scripts assign to these.
    globalThis.module = { exports: {} };
    globalThis.exports = globalThis.module.exports;
  }

  function register(namespace) {
    exportSources = [namespace, globalThis.module.exports];
  }

  /** Runs export `name`; a value it returns (or resolves to) is written as canonical JSON. */
  async function invoke(name) {
    const source = exportSources.find((exports) => typeof exports[name] === "function");
    if (source === undefined) throw new Error(`the script exports no function \`${name}\``);
    const result = await source[name]();
    if (result !== undefined) Host.output(result);
  }

  return { init, register, invoke };
})();

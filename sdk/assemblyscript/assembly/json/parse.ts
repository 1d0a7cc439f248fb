import { Result } from "../result";
import { invalidUtf8At } from "./utf8";
import {
  JsonArray,
  JsonBool,
  JsonNull,
  JsonNumber,
  JsonObject,
  JsonString,
  JsonValue,
} from "./value";

/** The deepest array/object nesting the host accepts, in input and output. */
const MAX_DEPTH: i32 = 128;

/**
 * How deep a document embedded as a field of the output object may nest:
 * one level more inside the output must stay within the host's limit.
 */
export const MAX_EMBEDDED_DEPTH: i32 = MAX_DEPTH - 1;

/**
 * Parses `bytes` as exactly one RFC 8259 JSON document.
 *
 * Unlike assemblyscript-json and json-as, it never aborts on bad input
 * (AssemblyScript cannot catch an abort, and a response body is untrusted),
 * keeps number lexemes intact and refuses what the host refuses: invalid UTF-8, lone surrogate escapes,
 * trailing data and nesting past 128 levels. On failure the result carries
 * `code` and a message that starts with `what`, such as "input".
 */
export function parseJson(bytes: Uint8Array, code: string, what: string): Result<JsonValue> {
  return parseWith(new Parser(bytes, MAX_DEPTH, false), code, what);
}

/**
 * Parses `bytes` as a document to embed verbatim in an output: nested at
 * most `MAX_EMBEDDED_DEPTH` levels, and lone surrogate escapes pass, as in
 * the other SDKs, for the host to reject in the output
 * (docs/contract.md, section 5.4).
 */
export function parseEmbeddable(bytes: Uint8Array, code: string, what: string): Result<JsonValue> {
  return parseWith(new Parser(bytes, MAX_EMBEDDED_DEPTH, true), code, what);
}

function parseWith(parser: Parser, code: string, what: string): Result<JsonValue> {
  const badByte = invalidUtf8At(parser.bytes);
  if (badByte >= 0) {
    return Result.err<JsonValue>(code, `${what} is not UTF-8 (byte ${badByte})`);
  }
  const value = parser.document();
  if (value == null) {
    return Result.err<JsonValue>(code, `${what} is not JSON: ${parser.error} at byte ${parser.pos}`);
  }
  return Result.ok<JsonValue>(value);
}

const TAB: i32 = 0x09;
const LF: i32 = 0x0a;
const CR: i32 = 0x0d;
const SPACE: i32 = 0x20;
const QUOTE: i32 = 0x22;
const PLUS: i32 = 0x2b;
const COMMA: i32 = 0x2c;
const MINUS: i32 = 0x2d;
const DOT: i32 = 0x2e;
const ZERO: i32 = 0x30;
const NINE: i32 = 0x39;
const COLON: i32 = 0x3a;
const BACKSLASH: i32 = 0x5c;
const OPEN_BRACKET: i32 = 0x5b;
const CLOSE_BRACKET: i32 = 0x5d;
const OPEN_BRACE: i32 = 0x7b;
const CLOSE_BRACE: i32 = 0x7d;

@inline
function isDigit(c: i32): bool {
  return c >= ZERO && c <= NINE;
}

/**
 * A recursive-descent parser over UTF-8 bytes. Each method returns `null`
 * after recording the first error in `error`; `pos` then points at it.
 */
class Parser {
  pos: i32 = 0;
  error: string = "";
  private depth: i32 = 0;
  // The bytes as a raw pointer and length: the hot loops then read memory
  // directly instead of a managed array the GC must track at every step.
  private readonly data: usize;
  private readonly size: i32;

  constructor(
    readonly bytes: Uint8Array,
    private readonly maxDepth: i32,
    private readonly loneSurrogatesPass: bool,
  ) {
    this.data = bytes.dataStart;
    this.size = bytes.length;
  }

  document(): JsonValue | null {
    const value = this.value();
    if (value == null) return null;
    this.skipWhitespace();
    if (this.pos < this.size) return this.fail("trailing characters");
    return value;
  }

  private value(): JsonValue | null {
    this.skipWhitespace();
    const c = this.peek();
    switch (c) {
      case OPEN_BRACE:
        return this.object();
      case OPEN_BRACKET:
        return this.array();
      case QUOTE: {
        const text = this.string();
        return text == null ? null : new JsonString(text);
      }
      case 0x74: // t
        return this.literal("true", new JsonBool(true));
      case 0x66: // f
        return this.literal("false", new JsonBool(false));
      case 0x6e: // n
        return this.literal("null", new JsonNull());
    }
    if (c == MINUS || isDigit(c)) return this.number();
    return this.fail(c < 0 ? "unexpected end" : "expected a value");
  }

  private object(): JsonValue | null {
    if (!this.enter()) return null;
    const object = new JsonObject();
    this.skipWhitespace();
    if (this.eat(CLOSE_BRACE)) return this.leave(object);
    do {
      this.skipWhitespace();
      if (this.peek() != QUOTE) return this.fail("expected a string key");
      const key = this.string();
      if (key == null) return null;
      this.skipWhitespace();
      if (!this.eat(COLON)) return this.fail("expected ':'");
      const member = this.value();
      if (member == null) return null;
      object.set(key, member);
      this.skipWhitespace();
    } while (this.eat(COMMA));
    if (!this.eat(CLOSE_BRACE)) return this.fail("expected ',' or '}'");
    return this.leave(object);
  }

  private array(): JsonValue | null {
    if (!this.enter()) return null;
    const array = new JsonArray();
    this.skipWhitespace();
    if (this.eat(CLOSE_BRACKET)) return this.leave(array);
    do {
      const item = this.value();
      if (item == null) return null;
      array.items.push(item);
      this.skipWhitespace();
    } while (this.eat(COMMA));
    if (!this.eat(CLOSE_BRACKET)) return this.fail("expected ',' or ']'");
    return this.leave(array);
  }

  /** Consumes the opening bracket or brace, counting the nesting. */
  private enter(): bool {
    if (++this.depth > this.maxDepth) {
      this.fail(`nesting deeper than ${this.maxDepth} levels`);
      return false;
    }
    this.pos++;
    return true;
  }

  private leave(container: JsonValue): JsonValue {
    this.depth--;
    return container;
  }

  private string(): string | null {
    this.pos++; // the opening quote
    let start = this.pos;
    // Allocated only for strings with escapes; most have none.
    let parts: string[] | null = null;
    let c = this.peek();
    while (c != QUOTE) {
      if (c < 0) return this.failString("unterminated string");
      if (c < SPACE) return this.failString("control character in string");
      if (c == BACKSLASH) {
        if (parts == null) parts = [];
        parts.push(this.slice(start, this.pos));
        this.pos++;
        const unescaped = this.escape();
        if (unescaped == null) return null;
        parts.push(unescaped);
        start = this.pos;
      } else {
        this.pos++;
      }
      c = this.peek();
    }
    const tail = this.slice(start, this.pos);
    this.pos++; // the closing quote
    if (parts == null) return tail;
    parts.push(tail);
    return parts.join("");
  }

  /** The character after a backslash (which is already consumed). */
  private escape(): string | null {
    const c = this.peek();
    this.pos++;
    switch (c) {
      case QUOTE:
        return '"';
      case BACKSLASH:
        return "\\";
      case 0x2f:
        return "/";
      case 0x62:
        return "\b";
      case 0x66:
        return "\f";
      case 0x6e:
        return "\n";
      case 0x72:
        return "\r";
      case 0x74:
        return "\t";
      case 0x75: // 'u'
        return this.unicodeEscape();
    }
    this.pos--;
    return this.failString("invalid escape");
  }

  /**
   * `\uXXXX`, or a `\uXXXX\uXXXX` surrogate pair. A lone surrogate is an
   * error unless `loneSurrogatesPass`; then it is kept as that UTF-16 unit.
   */
  private unicodeEscape(): string | null {
    const unit = this.hex4();
    if (unit < 0) return this.failString("invalid \\u escape");
    if (unit < 0xd800 || unit > 0xdfff) return String.fromCharCode(unit);
    if (unit <= 0xdbff) {
      // A high surrogate: a pair if a low surrogate escape follows.
      const start = this.pos;
      if (this.eat(BACKSLASH) && this.eat(0x75)) {
        const low = this.hex4();
        if (low >= 0xdc00 && low <= 0xdfff) return String.fromCharCode(unit, low);
      }
      this.pos = start;
    }
    if (!this.loneSurrogatesPass) return this.failString("lone surrogate");
    return String.fromCharCode(unit);
  }

  private hex4(): i32 {
    if (this.pos + 4 > this.size) return -1;
    let value = 0;
    for (let i = 0; i < 4; i++) {
      const c = <i32>load<u8>(this.data + <usize>(this.pos + i));
      let digit: i32;
      if (isDigit(c)) digit = c - ZERO;
      else if (c >= 0x61 && c <= 0x66) digit = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) digit = c - 0x41 + 10;
      else return -1;
      value = (value << 4) | digit;
    }
    this.pos += 4;
    return value;
  }

  /** `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, kept as text. */
  private number(): JsonValue | null {
    const start = this.pos;
    this.eat(MINUS);
    if (!this.eat(ZERO)) {
      if (!isDigit(this.peek())) return this.fail("invalid number");
      this.skipDigits();
    }
    if (this.eat(DOT)) {
      if (!isDigit(this.peek())) return this.fail("invalid number");
      this.skipDigits();
    }
    if (this.eat(0x65) || this.eat(0x45)) {
      if (!this.eat(PLUS)) this.eat(MINUS);
      if (!isDigit(this.peek())) return this.fail("invalid number");
      this.skipDigits();
    }
    return new JsonNumber(this.slice(start, this.pos));
  }

  private skipDigits(): void {
    while (isDigit(this.peek())) this.pos++;
  }

  /** `word` (ASCII), standing for `value`. */
  private literal(word: string, value: JsonValue): JsonValue | null {
    const n = word.length;
    if (this.pos + n > this.size) return this.fail("unexpected end");
    for (let i = 0; i < n; i++) {
      if (<i32>load<u8>(this.data + <usize>(this.pos + i)) != word.charCodeAt(i)) return this.fail("expected a value");
    }
    this.pos += n;
    return value;
  }

  private skipWhitespace(): void {
    for (;;) {
      const c = this.peek();
      if (c != SPACE && c != TAB && c != LF && c != CR) return;
      this.pos++;
    }
  }

  /** The byte at `pos`, or -1 at the end. */
  @inline
  private peek(): i32 {
    return this.pos < this.size ? <i32>load<u8>(this.data + <usize>this.pos) : -1;
  }

  @inline
  private eat(c: i32): bool {
    if (this.peek() != c) return false;
    this.pos++;
    return true;
  }

  /** Decodes bytes `start..end`, already checked to be UTF-8. */
  private slice(start: i32, end: i32): string {
    return String.UTF8.decodeUnsafe(this.data + <usize>start, <usize>(end - start));
  }

  private fail(message: string): JsonValue | null {
    this.error = message;
    return null;
  }

  private failString(message: string): string | null {
    this.error = message;
    return null;
  }
}

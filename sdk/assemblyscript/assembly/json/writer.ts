/**
 * Writes one compact JSON document as UTF-8, in the contract's canonical
 * form: no whitespace, keys in the order they are written, strings escaped
 * exactly as serde_json escapes them. Calls chain:
 *
 *     new JsonWriter().beginObject().key("greeting").string(text).endObject()
 *
 * The writer adds the commas and colons; it does not check that calls
 * nest correctly, which the host's output check would catch.
 */
export class JsonWriter {
  private buffer: Uint8Array = new Uint8Array(256);
  private length: i32 = 0;
  // One entry per open array/object: whether it already holds an element.
  private readonly hasElement: bool[] = [];
  private afterKey: bool = false;

  beginObject(): JsonWriter {
    this.separate();
    this.byte(0x7b); // {
    this.hasElement.push(false);
    return this;
  }

  endObject(): JsonWriter {
    this.hasElement.pop();
    this.byte(0x7d); // }
    return this;
  }

  beginArray(): JsonWriter {
    this.separate();
    this.byte(0x5b); // [
    this.hasElement.push(false);
    return this;
  }

  endArray(): JsonWriter {
    this.hasElement.pop();
    this.byte(0x5d); // ]
    return this;
  }

  /** An object key; the next value written is its value. */
  key(name: string): JsonWriter {
    this.separate();
    this.quoted(name);
    this.byte(0x3a); // :
    this.afterKey = true;
    return this;
  }

  string(value: string): JsonWriter {
    this.separate();
    this.quoted(value);
    return this;
  }

  integer(value: i64): JsonWriter {
    this.separate();
    this.ascii(value.toString());
    return this;
  }

  boolean(value: bool): JsonWriter {
    this.separate();
    this.ascii(value ? "true" : "false");
    return this;
  }

  nullValue(): JsonWriter {
    this.separate();
    this.ascii("null");
    return this;
  }

  /** A value given as JSON bytes, copied verbatim: the caller vouches for them. */
  raw(json: Uint8Array): JsonWriter {
    this.separate();
    this.reserve(json.length);
    this.buffer.set(json, this.length);
    this.length += json.length;
    return this;
  }

  /** The document written so far. */
  toBytes(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }

  /** The comma before a value or key, unless it comes first or after a key. */
  private separate(): void {
    if (this.afterKey) {
      this.afterKey = false;
      return;
    }
    const depth = this.hasElement.length;
    if (depth == 0) return;
    if (this.hasElement[depth - 1]) this.byte(0x2c); // ,
    else this.hasElement[depth - 1] = true;
  }

  /** `text` as a JSON string, escaped as serde_json does. */
  private quoted(text: string): void {
    this.reserve(text.length * 3 + 2);
    this.byte(0x22);
    const n = text.length;
    for (let i = 0; i < n; i++) {
      const unit = <u32>text.charCodeAt(i);
      if (unit >= 0x20 && unit != 0x22 && unit != 0x5c && unit < 0x80) {
        this.byte(unit);
      } else if (unit < 0x80) {
        this.escape(unit);
      } else if (unit < 0x800) {
        this.byte(0xc0 | (unit >> 6));
        this.byte(0x80 | (unit & 0x3f));
      } else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < n && isLowSurrogate(text.charCodeAt(i + 1))) {
        const low = <u32>text.charCodeAt(++i);
        const scalar = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
        this.byte(0xf0 | (scalar >> 18));
        this.byte(0x80 | ((scalar >> 12) & 0x3f));
        this.byte(0x80 | ((scalar >> 6) & 0x3f));
        this.byte(0x80 | (scalar & 0x3f));
      } else {
        // A lone surrogate cannot be UTF-8: write U+FFFD as Rust's
        // String::from_utf16_lossy would, keeping the output valid.
        const scalar = unit >= 0xd800 && unit <= 0xdfff ? 0xfffd : unit;
        this.byte(0xe0 | (scalar >> 12));
        this.byte(0x80 | ((scalar >> 6) & 0x3f));
        this.byte(0x80 | (scalar & 0x3f));
      }
    }
    this.byte(0x22);
  }

  /** An ASCII character that needs an escape: `"`, `\` or a control. */
  private escape(c: u32): void {
    this.byte(0x5c); // \
    switch (c) {
      case 0x22:
        this.byte(0x22);
        break;
      case 0x5c:
        this.byte(0x5c);
        break;
      case 0x08:
        this.byte(0x62); // b
        break;
      case 0x0c:
        this.byte(0x66); // f
        break;
      case 0x0a:
        this.byte(0x6e); // n
        break;
      case 0x0d:
        this.byte(0x72); // r
        break;
      case 0x09:
        this.byte(0x74); // t
        break;
      default:
        this.ascii("u00");
        this.byte(HEX_DIGITS.charCodeAt(c >> 4));
        this.byte(HEX_DIGITS.charCodeAt(c & 0xf));
    }
  }

  private ascii(text: string): void {
    this.reserve(text.length);
    for (let i = 0; i < text.length; i++) this.byte(text.charCodeAt(i));
  }

  private byte(b: u32): void {
    this.reserve(1);
    this.buffer[this.length++] = <u8>b;
  }

  private reserve(extra: i32): void {
    const needed = this.length + extra;
    if (needed <= this.buffer.length) return;
    const grown = new Uint8Array(max(needed, this.buffer.length * 2));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }
}

const HEX_DIGITS = "0123456789abcdef";

function isLowSurrogate(unit: i32): bool {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/** The largest integer the contract accepts: 2^53-1, exact in every language's JSON. */
export const MAX_SAFE_INTEGER: i64 = 9007199254740991;

/**
 * A parsed JSON value. The accessors return `null` (or -1 for integers)
 * when the value is not of the asked-for kind, so a guest validates its
 * input with plain null checks.
 */
export abstract class JsonValue {
  get isNull(): bool {
    return false;
  }

  asString(): string | null {
    return null;
  }

  asArray(): JsonValue[] | null {
    return null;
  }

  asObject(): JsonObject | null {
    return null;
  }

  /**
   * The value as a contract integer: a number written without fraction or
   * exponent, in 0..=2^53-1 (`-0` is 0). Anything else gives -1.
   */
  asInteger(): i64 {
    return -1;
  }

  /** The member `key` of an object; `null` when absent or not an object. */
  get(key: string): JsonValue | null {
    const object = this.asObject();
    return object == null ? null : object.member(key);
  }

  /** The member `key` if it is a string, else `null`. */
  getString(key: string): string | null {
    const member = this.get(key);
    return member == null ? null : member.asString();
  }

  /** The member `key` if it is an array, else `null`. */
  getArray(key: string): JsonValue[] | null {
    const member = this.get(key);
    return member == null ? null : member.asArray();
  }

  /** The member `key` as a contract integer (see `asInteger`), else -1. */
  getInteger(key: string): i64 {
    const member = this.get(key);
    return member == null ? -1 : member.asInteger();
  }
}

export class JsonNull extends JsonValue {
  get isNull(): bool {
    return true;
  }
}

export class JsonBool extends JsonValue {
  constructor(public readonly value: bool) {
    super();
  }
}

/** A number, kept as its source text so that no precision is lost. */
export class JsonNumber extends JsonValue {
  constructor(public readonly lexeme: string) {
    super();
  }

  asInteger(): i64 {
    const text = this.lexeme;
    const negative = text.charCodeAt(0) == 0x2d; // '-'
    const first = negative ? 1 : 0;
    // 2^53-1 has 16 digits; the parser already ruled out leading zeros.
    if (text.length - first > 16) return -1;
    let value: i64 = 0;
    for (let i = first; i < text.length; i++) {
      const digit = text.charCodeAt(i) - 0x30;
      if (digit < 0 || digit > 9) return -1; // fraction or exponent
      value = value * 10 + digit;
    }
    if (value > MAX_SAFE_INTEGER || (negative && value != 0)) return -1;
    return value;
  }
}

export class JsonString extends JsonValue {
  constructor(public readonly value: string) {
    super();
  }

  asString(): string | null {
    return this.value;
  }
}

export class JsonArray extends JsonValue {
  readonly items: JsonValue[] = [];

  asArray(): JsonValue[] | null {
    return this.items;
  }
}

export class JsonObject extends JsonValue {
  // The host rejects input with duplicate keys, so a map loses nothing.
  private readonly members: Map<string, JsonValue> = new Map();

  asObject(): JsonObject | null {
    return this;
  }

  member(key: string): JsonValue | null {
    return this.members.has(key) ? this.members.get(key) : null;
  }

  set(key: string, value: JsonValue): void {
    this.members.set(key, value);
  }
}

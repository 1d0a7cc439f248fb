// Text helpers the contract defines once for every guest: Unicode
// White_Space, ASCII-only case mapping and counting in Unicode scalar
// values. AssemblyScript strings are UTF-16, so each works by code point.

/** The Unicode White_Space property, as listed in the contract (5.3). */
export function isWhiteSpace(c: i32): bool {
  if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0x85) return false;
  return (
    c == 0x85 ||
    c == 0xa0 ||
    c == 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c == 0x2028 ||
    c == 0x2029 ||
    c == 0x202f ||
    c == 0x205f ||
    c == 0x3000
  );
}

/**
 * `text` without leading and trailing White_Space. (`String#trim` also
 * removes U+FEFF, which is not White_Space.) Every White_Space character
 * is one UTF-16 unit, and no surrogate is White_Space, so units will do.
 */
export function trimWhiteSpace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isWhiteSpace(text.charCodeAt(start))) start++;
  while (end > start && isWhiteSpace(text.charCodeAt(end - 1))) end--;
  return text.substring(start, end);
}

/** `a`-`z` to `A`-`Z`; every other character stays as it is. */
export function asciiUpper(text: string): string {
  return mapAscii(text, 0x61, 0x7a, -0x20);
}

/** `A`-`Z` to `a`-`z`; every other character stays as it is. */
export function asciiLower(text: string): string {
  return mapAscii(text, 0x41, 0x5a, 0x20);
}

function mapAscii(text: string, from: i32, to: i32, shift: i32): string {
  let out = "";
  let copied = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < from || c > to) continue;
    out += text.substring(copied, i) + String.fromCharCode(c + shift);
    copied = i + 1;
  }
  return out + text.substring(copied);
}

/**
 * Orders strings by Unicode scalar value (the order of their UTF-8 bytes),
 * not by UTF-16 unit: U+FF5A comes before U+1F600.
 */
export function compareScalars(a: string, b: string): i32 {
  // Equal scalars take equal units, so one index walks both strings.
  let i = 0;
  while (i < a.length && i < b.length) {
    const x = a.codePointAt(i);
    const y = b.codePointAt(i);
    if (x != y) return x < y ? -1 : 1;
    i += x > 0xffff ? 2 : 1;
  }
  if (a.length == b.length) return 0;
  return a.length < b.length ? -1 : 1;
}

/** The number of Unicode scalar values in `text`. */
export function scalarCount(text: string): i32 {
  let count = 0;
  for (let i = 0; i < text.length; i += text.codePointAt(i) > 0xffff ? 2 : 1) count++;
  return count;
}

/** The first `count` scalar values of `text` (never half a surrogate pair). */
export function firstScalars(text: string, count: i32): string {
  let i = 0;
  for (let taken = 0; taken < count && i < text.length; taken++) {
    i += text.codePointAt(i) > 0xffff ? 2 : 1;
  }
  return text.substring(0, i);
}

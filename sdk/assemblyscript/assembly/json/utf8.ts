/**
 * The byte offset of the first malformed UTF-8 sequence in `bytes`, or -1
 * when all of it is well-formed (no overlong forms, no surrogates, nothing
 * past U+10FFFF), as RFC 3629 defines it.
 */
export function invalidUtf8At(bytes: Uint8Array): i32 {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const lead = <u32>bytes[i];
    if (lead < 0x80) {
      i++;
      continue;
    }
    let trailing: i32;
    let cp: u32;
    let min: u32;
    if ((lead & 0xe0) == 0xc0) {
      trailing = 1;
      cp = lead & 0x1f;
      min = 0x80;
    } else if ((lead & 0xf0) == 0xe0) {
      trailing = 2;
      cp = lead & 0x0f;
      min = 0x800;
    } else if ((lead & 0xf8) == 0xf0) {
      trailing = 3;
      cp = lead & 0x07;
      min = 0x10000;
    } else {
      return i;
    }
    if (i + trailing >= n) return i;
    for (let k = 1; k <= trailing; k++) {
      const next = <u32>bytes[i + k];
      if ((next & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (next & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += trailing + 1;
  }
  return -1;
}

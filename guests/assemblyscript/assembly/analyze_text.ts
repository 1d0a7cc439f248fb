import { JsonValue, JsonWriter, Result } from "@polyplug/as-sdk";
import { isWhiteSpace } from "./text";

/**
 * `{"text": string}` → its UTF-8 length, its count of Unicode scalar
 * values, its count of words (maximal runs of non-White_Space) and the
 * first of its longest words.
 */
export function analyzeText(input: JsonValue): Result<JsonWriter> {
  const text = input.getString("text");
  if (text == null) return Result.err<JsonWriter>("invalid_input", "`text` must be a string");

  let chars: i64 = 0;
  let words: i64 = 0;
  let inWord = false;
  let wordStart = 0;
  let wordChars = 0;
  // The first longest word, as UTF-16 indices: a later word replaces it
  // only once it grows strictly longer.
  let longestStart = 0;
  let longestEnd = 0;
  let longestChars = 0;
  for (let i = 0; i < text.length; ) {
    // A surrogate pair is one scalar value in two UTF-16 units.
    const scalar = text.codePointAt(i);
    const next = i + (scalar > 0xffff ? 2 : 1);
    chars++;
    if (isWhiteSpace(scalar)) {
      inWord = false;
    } else {
      if (!inWord) {
        inWord = true;
        wordStart = i;
        wordChars = 0;
        words++;
      }
      wordChars++;
      if (wordChars > longestChars) {
        longestStart = wordStart;
        longestEnd = next;
        longestChars = wordChars;
      }
    }
    i = next;
  }

  return Result.ok(
    new JsonWriter()
      .beginObject()
      .key("bytes")
      .integer(String.UTF8.byteLength(text))
      .key("chars")
      .integer(chars)
      .key("words")
      .integer(words)
      .key("longest_word")
      .string(text.substring(longestStart, longestEnd))
      .endObject(),
  );
}

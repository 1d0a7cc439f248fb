package polyplug

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// maxEmbeddedDepth is how deep a [RawJSON] may nest: embedded as a field of
// the output object it is one level deeper, which must stay within the host's
// output limit of maxDepth.
const maxEmbeddedDepth = maxDepth - 1

// ParseRawJSON checks that data is exactly one JSON document in UTF-8, nested
// at most 127 levels deep, and returns it with leading and trailing JSON
// whitespace removed, ready to embed verbatim with [Marshal].
//
// It checks no more than that, like the other SDKs: a document with duplicate
// keys or lone surrogate escapes passes, and the host then rejects the output
// that embeds it (docs/contract.md, section 5.4).
func ParseRawJSON(data []byte) (RawJSON, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("not valid UTF-8")
	}
	// encoding/json validates the whole document before it stores a
	// RawMessage, and its errors say what is wrong where.
	var syntax json.RawMessage
	if err := json.Unmarshal(data, &syntax); err != nil {
		return nil, err
	}
	if depth := nestingDepth(data); depth > maxEmbeddedDepth {
		return nil, fmt.Errorf("nested %d levels deep, more than %d", depth, maxEmbeddedDepth)
	}
	return RawJSON(bytes.Trim(data, " \t\n\r")), nil
}

// nestingDepth returns the deepest nesting of arrays and objects in data, a
// valid JSON document: brackets count except inside strings.
func nestingDepth(data []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, b := range data {
		switch {
		case escaped:
			escaped = false
		case inString && b == '\\':
			escaped = true
		case b == '"':
			inString = !inString
		case inString:
		case b == '[' || b == '{':
			depth++
			deepest = max(deepest, depth)
		case b == ']' || b == '}':
			depth--
		}
	}
	return deepest
}

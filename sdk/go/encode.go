package polyplug

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// RawJSON is a JSON document that [Marshal] copies verbatim, byte for byte.
// Build one with [ParseRawJSON] so that it is known to be valid.
type RawJSON []byte

// Marshal encodes v in the contract's canonical form (docs/contract.md,
// section 2): compact, struct fields in declaration order, map keys sorted,
// strings escaped exactly as serde_json escapes them. encoding/json differs:
// it escapes U+2028, U+2029 and (by default) <, > and &, and it compacts
// embedded raw JSON.
//
// Field names and the omitempty option come from `json` struct tags. Nil
// slices and maps encode as [] and {}, not null. Floats are encoded as
// encoding/json does; the canonical form has no floats, so their text may
// differ from other languages'. NaN, infinities and types JSON cannot hold
// (channels, functions, maps without string keys) are errors; a struct with an
// embedded field panics, as it is a programming error.
func Marshal(v any) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			encErr, ok := r.(encodeError)
			if !ok {
				panic(r)
			}
			out, err = nil, encErr
		}
	}()
	return appendValue(nil, reflect.ValueOf(v)), nil
}

// encodeError carries an encoding failure up through the recursion in
// appendValue, the way encoding/json does, and is recovered by Marshal.
type encodeError struct{ error }

var (
	rawJSONType = reflect.TypeFor[RawJSON]()
	numberType  = reflect.TypeFor[json.Number]()
)

func appendValue(buf []byte, v reflect.Value) []byte {
	if !v.IsValid() {
		return append(buf, "null"...)
	}
	if v.Type() == rawJSONType {
		return append(buf, v.Bytes()...)
	}
	if v.Type() == numberType {
		// What [Unmarshal] gives an `any` for a number: written as it was
		// read, so a value decoded and encoded again keeps its digits.
		return appendNumber(buf, v.String())
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return append(buf, "null"...)
		}
		return appendValue(buf, v.Elem())
	case reflect.String:
		return appendString(buf, v.String())
	case reflect.Bool:
		return strconv.AppendBool(buf, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(buf, v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(buf, v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return appendFloat(buf, v.Float())
	case reflect.Slice, reflect.Array:
		buf = append(buf, '[')
		for i := range v.Len() {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendValue(buf, v.Index(i))
		}
		return append(buf, ']')
	case reflect.Map:
		return appendMap(buf, v)
	case reflect.Struct:
		return appendStruct(buf, v)
	}
	panic(encodeError{fmt.Errorf("cannot encode a value of type %s", v.Type())})
}

func appendNumber(buf []byte, n string) []byte {
	// json.Valid allows whitespace around the number; the ends must be its own.
	if n == "" || !(n[0] == '-' || isDigit(n[0])) || !isDigit(n[len(n)-1]) || !json.Valid([]byte(n)) {
		panic(encodeError{fmt.Errorf("cannot encode json.Number %q: not a JSON number", n)})
	}
	return append(buf, n...)
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func appendFloat(buf []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		panic(encodeError{fmt.Errorf("cannot encode %v: JSON has no such number", f)})
	}
	b, _ := json.Marshal(f) // cannot fail for a finite float
	return append(buf, b...)
}

func appendMap(buf []byte, v reflect.Value) []byte {
	if v.Type().Key().Kind() != reflect.String {
		panic(encodeError{fmt.Errorf("cannot encode %s: map keys must be strings", v.Type())})
	}
	keys := v.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
	buf = append(buf, '{')
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, k.String())
		buf = append(buf, ':')
		buf = appendValue(buf, v.MapIndex(k))
	}
	return append(buf, '}')
}

func appendStruct(buf []byte, v reflect.Value) []byte {
	buf = append(buf, '{')
	first := true
	for _, f := range fieldsOf(v.Type()) {
		fv := v.Field(f.index)
		if f.omitEmpty && isEmpty(fv) {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendString(buf, f.name)
		buf = append(buf, ':')
		buf = appendValue(buf, fv)
	}
	return append(buf, '}')
}

// isEmpty is encoding/json's notion of empty for omitempty.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return v.IsZero()
	}
	return false
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string escaped exactly as serde_json does:
// the two-character escapes for ", \, \b, \f, \n, \r and \t, \u00xx (lowercase
// hex) for the other control characters, everything else as raw UTF-8.
// Invalid UTF-8, which a Go string may hold but JSON may not, becomes U+FFFD.
func appendString(buf []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		case '\b':
			buf = append(buf, '\\', 'b')
		case '\f':
			buf = append(buf, '\\', 'f')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

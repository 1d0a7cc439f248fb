package polyplug

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxSafeInteger is 2^53-1, the largest integer every JSON implementation
// reads exactly. Integer fields accept nothing larger in magnitude.
const MaxSafeInteger = 1<<53 - 1

// maxDepth is the deepest nesting of arrays and objects the host lets through
// (docs/contract.md, section 3); the decoder holds config values, which the
// host does not check, to the same limit.
const maxDepth = 128

// Unmarshal decodes one JSON document into v, a non-nil pointer, more strictly
// than encoding/json, so that a Go plugin accepts exactly what plugins in other
// languages accept:
//   - object keys match `json` tags (or field names) exactly, not ignoring case;
//   - every field is required unless its tag has omitempty; null is never a
//     value, not even for an optional field;
//   - integer fields take only integer literals (no fraction or exponent) of
//     magnitude at most [MaxSafeInteger] that fit the field's type; -0 is 0;
//   - duplicate keys, trailing data and nesting past 128 levels are errors;
//   - keys without a matching field are ignored.
//
// Supported field types: string, bool, integers, floats, pointers, slices,
// arrays, maps with string keys, structs without embedded fields, and any
// (which receives strings, bools, json.Number, []any and map[string]any).
// Other types are a programming error and panic.
//
// Errors name the offending place, e.g. "`cart.lines[0].quantity`: ...".
func Unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic("polyplug.Unmarshal needs a non-nil pointer")
	}
	doc, err := parse(data)
	if err != nil {
		return err
	}
	return bind(rv.Elem(), doc, "")
}

// parse reads data as one JSON document into a tree of nil, bool, string,
// json.Number (holding the literal as written), []any and map[string]any.
func parse(data []byte) (any, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	doc, err := parseValue(dec, 1)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the end of the JSON document")
	}
	return doc, nil
}

// token reads the next token inside the document, where the end of the data
// means the document is cut short.
func token(dec *json.Decoder) (json.Token, error) {
	tok, err := dec.Token()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return tok, err
}

func parseValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := token(dec)
	if err != nil {
		return nil, err
	}
	delim, isDelim := tok.(json.Delim)
	if !isDelim {
		return tok, nil
	}
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	if delim == '[' {
		arr := []any{}
		for dec.More() {
			elem, err := parseValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, elem)
		}
		_, err = token(dec) // the closing ]
		return arr, err
	}
	obj := map[string]any{}
	for dec.More() {
		keyTok, err := token(dec)
		if err != nil {
			return nil, err
		}
		key := keyTok.(string) // the decoder allows only strings as keys
		if _, dup := obj[key]; dup {
			return nil, fmt.Errorf("duplicate key `%s`", key)
		}
		if obj[key], err = parseValue(dec, depth+1); err != nil {
			return nil, err
		}
	}
	_, err = token(dec) // the closing }
	return obj, err
}

// bind stores the parsed node in v; path names v in error messages.
func bind(v reflect.Value, node any, path string) error {
	if v.Kind() == reflect.Interface && v.NumMethod() == 0 {
		if node != nil {
			v.Set(reflect.ValueOf(node))
		}
		return nil
	}
	if node == nil {
		return mismatch(path, v.Type(), "null")
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		return bind(v.Elem(), node, path)
	case reflect.String:
		s, ok := node.(string)
		if !ok {
			return mismatch(path, v.Type(), describe(node))
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := node.(bool)
		if !ok {
			return mismatch(path, v.Type(), describe(node))
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return bindInteger(v, node, path)
	case reflect.Float32, reflect.Float64:
		n, ok := node.(json.Number)
		if !ok {
			return mismatch(path, v.Type(), describe(node))
		}
		f, err := strconv.ParseFloat(string(n), v.Type().Bits())
		if err != nil || v.OverflowFloat(f) {
			return fmt.Errorf("%s: %s does not fit %s", at(path), n, v.Type())
		}
		v.SetFloat(f)
	case reflect.Slice, reflect.Array:
		return bindArray(v, node, path)
	case reflect.Map:
		return bindMap(v, node, path)
	case reflect.Struct:
		return bindStruct(v, node, path)
	default:
		panic(fmt.Sprintf("polyplug: cannot decode into %s (at %s)", v.Type(), at(path)))
	}
	return nil
}

// bindInteger applies the contract's integer rule: an integer literal
// -?(0|[1-9][0-9]*) whose magnitude is at most MaxSafeInteger and which fits
// the field's type (so unsigned fields take 0..=MaxSafeInteger; -0 is 0).
func bindInteger(v reflect.Value, node any, path string) error {
	n, ok := node.(json.Number)
	if !ok {
		return mismatch(path, v.Type(), describe(node))
	}
	digits, negative := strings.CutPrefix(string(n), "-")
	magnitude, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || magnitude > MaxSafeInteger { // a fraction or exponent fails ParseUint
		return fmt.Errorf("%s: expected an integer of magnitude at most %d, got %s", at(path), MaxSafeInteger, n)
	}
	if v.CanUint() {
		if negative && magnitude != 0 || v.OverflowUint(magnitude) {
			return fmt.Errorf("%s: %s is out of range for %s", at(path), n, v.Type())
		}
		v.SetUint(magnitude)
		return nil
	}
	value := int64(magnitude)
	if negative {
		value = -value
	}
	if v.OverflowInt(value) {
		return fmt.Errorf("%s: %s is out of range for %s", at(path), n, v.Type())
	}
	v.SetInt(value)
	return nil
}

func bindArray(v reflect.Value, node any, path string) error {
	arr, ok := node.([]any)
	if !ok {
		return mismatch(path, v.Type(), describe(node))
	}
	if v.Kind() == reflect.Slice {
		v.Set(reflect.MakeSlice(v.Type(), len(arr), len(arr)))
	} else if len(arr) != v.Len() {
		return fmt.Errorf("%s: expected %d elements, got %d", at(path), v.Len(), len(arr))
	}
	for i, elem := range arr {
		if err := bind(v.Index(i), elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}

func bindMap(v reflect.Value, node any, path string) error {
	obj, ok := node.(map[string]any)
	if !ok {
		return mismatch(path, v.Type(), describe(node))
	}
	if v.Type().Key().Kind() != reflect.String {
		panic(fmt.Sprintf("polyplug: cannot decode into %s: map keys must be strings", v.Type()))
	}
	v.Set(reflect.MakeMapWithSize(v.Type(), len(obj)))
	for key, elem := range obj {
		ev := reflect.New(v.Type().Elem()).Elem()
		if err := bind(ev, elem, join(path, key)); err != nil {
			return err
		}
		v.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), ev)
	}
	return nil
}

func bindStruct(v reflect.Value, node any, path string) error {
	obj, ok := node.(map[string]any)
	if !ok {
		return mismatch(path, v.Type(), describe(node))
	}
	for _, f := range fieldsOf(v.Type()) {
		fieldPath := join(path, f.name)
		elem, present := obj[f.name]
		if !present {
			if f.omitEmpty {
				continue
			}
			return fmt.Errorf("%s: missing", at(fieldPath))
		}
		if err := bind(v.Field(f.index), elem, fieldPath); err != nil {
			return err
		}
	}
	return nil
}

func mismatch(path string, want reflect.Type, got string) error {
	return fmt.Errorf("%s: expected %s, got %s", at(path), kindName(want), got)
}

// kindName says in JSON terms what a Go type accepts.
func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return kindName(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	if t.ConvertibleTo(reflect.TypeFor[int64]()) {
		return "an integer"
	}
	return t.String()
}

// describe names a parsed node's JSON type for error messages.
func describe(node any) string {
	switch n := node.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + string(n)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "null"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func at(path string) string {
	if path == "" {
		return "the document"
	}
	return "`" + path + "`"
}

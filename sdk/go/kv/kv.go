// Package kv is key-value state kept by the polyplug host (docs/contract.md,
// section 8): values that outlive the call, the instance, new versions of the
// plugin and restarts of the host.
//
// The operator grants the plugin a store (`kv = "default"` in its config);
// the host puts every key in the plugin's namespace, so keys are plain names.
// Values are JSON: [Set] encodes them with [polyplug.Marshal], [Get] decodes
// them with [polyplug.Unmarshal] (or hands the stored text over as it is,
// into a [polyplug.RawJSON]). Every write gives the key a new version, a
// uint64 that is never reused in the store, which [CompareAndSwap] checks.
//
// Every function returns the host's refusals as a [*polyplug.Error] whose Code
// is one of the contract's kv_* codes (the Code* constants); returned from a
// function that [polyplug.Handle] runs, it reaches the caller with that code:
//
//	visits, err := kv.Increment("visits", 1)
//	if err != nil {
//		return out, err // kv_not_granted, kv_overflow, ...
//	}
//	var e *polyplug.Error
//	if errors.As(err, &e) && e.Code == kv.CodeNotGranted { ... }
package kv

import (
	"bytes"
	"encoding/json"
	"fmt"

	polyplug "github.com/polyplug/polyplug/sdk/go"
)

// The contract's error codes (docs/contract.md, section 8.3), and this SDK's
// own CodeInvalidValue.
const (
	// CodeNotGranted: the plugin has no store.
	CodeNotGranted = "kv_not_granted"
	// CodeInvalidRequest: the host could not read the request (or the SDK
	// could not read the host's answer).
	CodeInvalidRequest = "kv_invalid_request"
	// CodeKeyTooLarge: a key, prefix or cursor is longer than max_kv_key bytes.
	CodeKeyTooLarge = "kv_key_too_large"
	// CodeValueTooLarge: the value is longer than max_kv_value bytes.
	CodeValueTooLarge = "kv_value_too_large"
	// CodeNamespaceFull: the write would pass the namespace's quota.
	CodeNamespaceFull = "kv_namespace_full"
	// CodeTooManyOperations: the call already made max_kv_operations operations.
	CodeTooManyOperations = "kv_too_many_operations"
	// CodeNotAnInteger: [Increment] on a key that holds something else.
	CodeNotAnInteger = "kv_not_an_integer"
	// CodeOverflow: [Increment]'s by, or its result, is past ±(2^53-1).
	CodeOverflow = "kv_overflow"
	// CodeUnavailable: the store failed, or there is no host (native tests).
	CodeUnavailable = "kv_unavailable"
	// CodeInvalidValue (this SDK's): the value does not encode, or the
	// stored value does not decode into what [Get] was given.
	CodeInvalidValue = "kv_invalid_value"
)

// MaxListLimit is the most items one [List] returns.
const MaxListLimit = 1000

// MaxCounter is the largest magnitude a counter reaches: 2^53-1, which every
// guest language holds exactly.
const MaxCounter = polyplug.MaxSafeInteger

// Item is one key of a [List] page.
type Item struct {
	Key     string `json:"key"`
	Version uint64 `json:"version"`
}

// Page is keys in key order, and where the next page starts.
type Page struct {
	Items []Item
	// Cursor is passed to the next [List] call; nil on the last page.
	Cursor *string
}

// Counter is a counter after [Increment].
type Counter struct {
	Value   int64  `json:"value"`
	Version uint64 `json:"version"`
}

// Get decodes the value of key into v (a non-nil pointer, as for
// [polyplug.Unmarshal]; a *polyplug.RawJSON receives the stored text as it
// is) and returns its version. A key that does not exist returns version 0
// and leaves v untouched. A value that does not fit v is kv_invalid_value
// (the stored value is left as it is).
func Get(key string, v any) (version uint64, err error) {
	answer, err := send(request{Op: "get", Key: &key})
	if err != nil {
		return 0, err
	}
	return readGet(answer, key, v)
}

// Set sets key to v, encoded with [polyplug.Marshal], and returns its new
// version.
func Set(key string, v any) (version uint64, err error) {
	value, err := encode(v)
	if err != nil {
		return 0, err
	}
	answer, err := send(request{Op: "set", Key: &key, Value: value})
	if err != nil {
		return 0, err
	}
	var written struct {
		Version uint64 `json:"version"`
	}
	return written.Version, decode(answer, &written)
}

// Delete deletes key and reports whether it existed.
func Delete(key string) (existed bool, err error) {
	answer, err := send(request{Op: "delete", Key: &key})
	if err != nil {
		return false, err
	}
	var deleted struct {
		Deleted bool `json:"deleted"`
	}
	return deleted.Deleted, decode(answer, &deleted)
}

// List returns up to limit (1 to [MaxListLimit]; 0 for the host's default of
// 100) keys starting with prefix, in key order, after cursor (nil for the
// first page, then the previous page's Cursor):
//
//	var cursor *string
//	for {
//		page, err := kv.List("user:", cursor, 100)
//		if err != nil {
//			return err
//		}
//		// page.Items ...
//		if page.Cursor == nil {
//			break
//		}
//		cursor = page.Cursor
//	}
func List(prefix string, cursor *string, limit int) (Page, error) {
	answer, err := send(listRequest(prefix, cursor, limit))
	if err != nil {
		return Page{}, err
	}
	return readList(answer)
}

// CompareAndSwap sets key to v only if key still has version expected (0:
// only if it does not exist). It returns whether it did and the key's version:
// the new one when swapped, the current one (0 if none) when not. A conflict
// is an answer, not an error.
func CompareAndSwap(key string, expected uint64, v any) (swapped bool, version uint64, err error) {
	value, err := encode(v)
	if err != nil {
		return false, 0, err
	}
	answer, err := send(request{Op: "cas", Key: &key, Version: &expected, Value: value})
	if err != nil {
		return false, 0, err
	}
	var result struct {
		Swapped bool   `json:"swapped"`
		Version uint64 `json:"version"`
	}
	err = decode(answer, &result)
	return result.Swapped, result.Version, err
}

// Increment adds by (negative to subtract) to the integer at key (absent
// counts as 0), atomically, and returns the result. A value that is not an
// integer is kv_not_an_integer; a result past ±[MaxCounter] is kv_overflow and
// changes nothing.
func Increment(key string, by int64) (Counter, error) {
	answer, err := send(request{Op: "increment", Key: &key, By: &by})
	if err != nil {
		return Counter{}, err
	}
	var counter Counter
	return counter, decode(answer, &counter)
}

// request is a request as the host reads it; nil fields are left out.
type request struct {
	Op      string           `json:"op"`
	Key     *string          `json:"key,omitempty"`
	Value   polyplug.RawJSON `json:"value,omitempty"`
	Prefix  *string          `json:"prefix,omitempty"`
	Cursor  *string          `json:"cursor,omitempty"`
	Limit   *int             `json:"limit,omitempty"`
	Version *uint64          `json:"version,omitempty"`
	By      *int64           `json:"by,omitempty"`
}

func listRequest(prefix string, cursor *string, limit int) request {
	r := request{Op: "list", Prefix: &prefix, Cursor: cursor}
	if limit != 0 {
		r.Limit = &limit
	}
	return r
}

// encode is v as the JSON text a request carries; a nil v is null.
func encode(v any) (polyplug.RawJSON, error) {
	if raw, ok := v.(polyplug.RawJSON); ok {
		doc, err := polyplug.ParseRawJSON(raw)
		if err != nil {
			return nil, polyplug.Errorf(CodeInvalidValue, "the value is not one JSON document: %v", err)
		}
		return doc, nil
	}
	value, err := polyplug.Marshal(v)
	if err != nil {
		return nil, polyplug.Errorf(CodeInvalidValue, "the value does not encode: %v", err)
	}
	return value, nil
}

// send sends one request to the host's polyplug_kv and returns the answer.
func send(r request) ([]byte, error) {
	text, err := polyplug.Marshal(r)
	if err != nil {
		panic(fmt.Sprintf("polyplug/kv: a request always encodes: %v", err))
	}
	return host(text)
}

// answer is the host's answer: {"ok": <result>} or {"error": {"code", "message"}}.
type answer struct {
	OK    json.RawMessage `json:"ok"`
	Error *polyplug.Error `json:"error"`
}

func readAnswer(text []byte) (json.RawMessage, error) {
	var a answer
	if err := json.Unmarshal(text, &a); err != nil {
		return nil, unreadable(err)
	}
	if a.Error != nil {
		if a.Error.Code == "" {
			return nil, unreadable(fmt.Errorf("an error without a code"))
		}
		return nil, a.Error
	}
	// RawMessage keeps a null result as the text "null"; absent stays nil.
	if a.OK == nil {
		return nil, unreadable(fmt.Errorf("neither `ok` nor `error`"))
	}
	return a.OK, nil
}

// decode reads an answer's result into v, or returns its error.
func decode(text []byte, v any) error {
	ok, err := readAnswer(text)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(ok, v); err != nil {
		return unreadable(err)
	}
	return nil
}

func readGet(text []byte, key string, v any) (uint64, error) {
	ok, err := readAnswer(text)
	if err != nil {
		return 0, err
	}
	if bytes.Equal(ok, []byte("null")) {
		return 0, nil
	}
	var found struct {
		Value   json.RawMessage `json:"value"` // null is the text "null"; absent is nil
		Version uint64          `json:"version"`
	}
	if err := json.Unmarshal(ok, &found); err != nil {
		return 0, unreadable(err)
	}
	if found.Value == nil || found.Version == 0 {
		return 0, unreadable(fmt.Errorf("`get` answered without a value and version: %s", ok))
	}
	if raw, isRaw := v.(*polyplug.RawJSON); isRaw {
		*raw = polyplug.RawJSON(found.Value)
		return found.Version, nil
	}
	if err := polyplug.Unmarshal(found.Value, v); err != nil {
		return 0, polyplug.Errorf(CodeInvalidValue, "the value of `%s`: %v", key, err)
	}
	return found.Version, nil
}

func readList(text []byte) (Page, error) {
	var page struct {
		Items  []Item  `json:"items"`
		Cursor *string `json:"cursor"`
	}
	if err := decode(text, &page); err != nil {
		return Page{}, err
	}
	if page.Items == nil {
		page.Items = []Item{}
	}
	return Page{Items: page.Items, Cursor: page.Cursor}, nil
}

func unreadable(err error) *polyplug.Error {
	return polyplug.Errorf(CodeInvalidRequest, "the host's answer does not read: %v", err)
}

func unavailable(message string) *polyplug.Error {
	return polyplug.Errorf(CodeUnavailable, "cannot reach the host's store: %s", message)
}

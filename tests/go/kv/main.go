// Command kv is a test plugin for the Go SDK's package kv: one export per
// function, its arguments as the input object, what it returned as the
// output, so tests/all/kv_languages.rs can check the whole API against the
// host. Built by `just build-guest-go` into target/guests/go-tests/kv.wasm.
package main

import (
	polyplug "github.com/polyplug/polyplug/sdk/go"
	"github.com/polyplug/polyplug/sdk/go/kv"
)

func main() {}

type args struct {
	Key     string  `json:"key,omitempty"`
	Value   any     `json:"value,omitempty"` // numbers keep their digits (json.Number)
	Prefix  string  `json:"prefix,omitempty"`
	Cursor  *string `json:"cursor,omitempty"`
	Limit   int     `json:"limit,omitempty"`
	Version uint64  `json:"version,omitempty"`
	By      int64   `json:"by,omitempty"`
}

func input(fn func(args) (any, error)) int32 { return polyplug.Handle(fn) }

type version struct {
	Version uint64 `json:"version"`
}

//go:wasmexport set
func set() int32 {
	return input(func(a args) (any, error) {
		v, err := kv.Set(a.Key, a.Value)
		return version{v}, err
	})
}

// set_struct stores a Go struct, encoded by the SDK.
//
//go:wasmexport set_struct
func setStruct() int32 {
	type cart struct {
		Items []int   `json:"items"`
		Note  *string `json:"note"`
		Big   uint64  `json:"big"`
	}
	return input(func(a args) (any, error) {
		v, err := kv.Set(a.Key, cart{Items: []int{1, 2}, Big: 1 << 60})
		return version{v}, err
	})
}

//go:wasmexport get
func get() int32 {
	return input(func(a args) (any, error) {
		var value polyplug.RawJSON
		v, err := kv.Get(a.Key, &value)
		if err != nil || v == 0 {
			return nil, err
		}
		return struct {
			Value   polyplug.RawJSON `json:"value"`
			Version uint64           `json:"version"`
		}{value, v}, nil
	})
}

// get_count decodes the value into an int64: anything else is kv_invalid_value.
//
//go:wasmexport get_count
func getCount() int32 {
	return input(func(a args) (any, error) {
		var n int64
		v, err := kv.Get(a.Key, &n)
		return struct {
			Value   int64  `json:"value"`
			Version uint64 `json:"version"`
		}{n, v}, err
	})
}

//go:wasmexport remove
func remove() int32 {
	return input(func(a args) (any, error) {
		existed, err := kv.Delete(a.Key)
		return struct {
			Deleted bool `json:"deleted"`
		}{existed}, err
	})
}

//go:wasmexport list
func list() int32 {
	return input(func(a args) (any, error) {
		page, err := kv.List(a.Prefix, a.Cursor, a.Limit)
		return struct {
			Items  []kv.Item `json:"items"`
			Cursor *string   `json:"cursor,omitempty"`
		}{page.Items, page.Cursor}, err
	})
}

//go:wasmexport cas
func cas() int32 {
	return input(func(a args) (any, error) {
		swapped, v, err := kv.CompareAndSwap(a.Key, a.Version, a.Value)
		return struct {
			Swapped bool   `json:"swapped"`
			Version uint64 `json:"version"`
		}{swapped, v}, err
	})
}

//go:wasmexport increment
func increment() int32 {
	return input(func(a args) (any, error) {
		counter, err := kv.Increment(a.Key, a.By)
		return counter, err
	})
}

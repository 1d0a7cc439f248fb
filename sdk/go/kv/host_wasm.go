//go:build wasm

package kv

import pdk "github.com/extism/go-pdk"

//go:wasmimport extism:host/user polyplug_kv
func polyplugKV(request uint64) uint64

// host sends request to the host in a kernel block and returns the answer,
// read out of the new block the host returns; both blocks are freed here.
func host(request []byte) ([]byte, error) {
	memory := pdk.AllocateBytes(request)
	offset := polyplugKV(memory.Offset())
	memory.Free()
	if offset == 0 {
		return nil, unavailable("the host's store gave no answer")
	}
	answer := pdk.FindMemory(offset)
	text := answer.ReadBytes()
	answer.Free()
	return text, nil
}

//go:build !wasm

package kv

// host: natively (go test) there is no host, so every operation is
// kv_unavailable; the request building and answer reading around it are
// plain Go and tested natively.
func host([]byte) ([]byte, error) {
	return nil, unavailable("no host outside wasm")
}

// Command reference-go is the Go reference guest: the contract's reference
// functions (docs/contract.md, section 5), one file each, built as a WASI
// reactor whose exports Extism calls:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o reference-go.wasm .
package main

// main never runs in a reactor build; Go requires it all the same.
func main() {}

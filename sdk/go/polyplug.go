// Package polyplug is the Go side of the polyplug plugin contract
// (docs/contract.md): a plugin export takes one JSON document and returns one
// JSON document or a contract error {"code","message"}.
//
// Entry points:
//   - [Handle] runs a typed function as an Extism export: it decodes the input
//     strictly, encodes the result canonically and turns errors and panics into
//     contract errors.
//   - [Error] and [Errorf] build contract errors; the Code* constants name the
//     codes the contract defines.
//   - [Config] and [ConfigJSON] read plugin config values.
//   - [HTTPGet] fetches a URL through the host (subject to allowed_hosts).
//   - [LogInfo] and friends log through the host.
//   - [Unmarshal], [Marshal] and [RawJSON] are the strict decoder and the
//     canonical encoder that [Handle] uses, for config values and other JSON.
//   - Package kv (github.com/polyplug/polyplug/sdk/go/kv) is key-value state
//     the host keeps: get, set, delete, list, compare-and-swap, increment.
//
// Build plugins with standard Go as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
package polyplug

import "fmt"

// Error codes defined by the contract. Callers branch on them, so a plugin
// should reuse these before inventing its own snake_case codes.
const (
	// CodeInvalidInput: the input does not have the shape the function needs.
	CodeInvalidInput = "invalid_input"
	// CodeInvalidConfig: a plugin config value the function reads is malformed.
	CodeInvalidConfig = "invalid_config"
	// CodeUpstreamError: an HTTP response the function fetched is not usable.
	CodeUpstreamError = "upstream_error"
	// CodePanic: the plugin crashed; [Handle] reports recovered panics with it.
	CodePanic = "panic"
	// CodeInternal: the plugin returned an error that is not an [*Error].
	CodeInternal = "internal_error"
)

// Error is a contract error: Code is a short snake_case identifier callers may
// branch on, Message is for people.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an [*Error] with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

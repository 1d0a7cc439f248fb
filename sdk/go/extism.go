//go:build wasm

// This file talks to the Extism host through the official go-pdk, which
// compiles with standard Go as well as TinyGo. Everything else in the package
// is plain Go, so its tests run natively.

package polyplug

import (
	"fmt"

	pdk "github.com/extism/go-pdk"
)

// Handle runs fn as the body of an Extism export and returns the export's
// result. The input is decoded with [Unmarshal] (a failure is
// invalid_input), the result is written with [Marshal], an [*Error] returned
// by fn becomes the contract error as is, any other error becomes
// internal_error, and a panic becomes the error code "panic":
//
//	//go:wasmexport greet
//	func greet() int32 { return polyplug.Handle(Greet) }
func Handle[In, Out any](fn func(In) (Out, error)) int32 {
	output, failure := call(fn, pdk.Input())
	if failure != nil {
		pdk.SetErrorString(string(failure.encode()))
		return 1
	}
	pdk.Output(output)
	return 0
}

// Config returns the plugin config value for key and whether it is set.
// Extism hands an empty value over exactly like a missing one, so "" reads as
// not set.
func Config(key string) (string, bool) {
	return pdk.GetConfig(key)
}

// ConfigJSON decodes the config value for key into v with [Unmarshal]. It
// reports whether the value is set; a value that does not decode is an
// invalid_config [*Error] naming the key.
func ConfigJSON(key string, v any) (bool, error) {
	text, ok := Config(key)
	if !ok {
		return false, nil
	}
	if err := Unmarshal([]byte(text), v); err != nil {
		return true, Errorf(CodeInvalidConfig, "config `%s`: %v", key, err)
	}
	return true, nil
}

// HTTPGet fetches url through the host and returns the status and body of
// the response, whatever the status. The plugin's allowed_hosts decides
// whether the request may be made; when it may not, the host fails the whole
// call, so HTTPGet does not return.
func HTTPGet(url string) (status int, body []byte) {
	res := pdk.NewHTTPRequest(pdk.MethodGet, url).Send()
	return int(res.Status()), res.Body()
}

// LogDebug logs a formatted message through the host at debug level.
func LogDebug(format string, args ...any) { pdk.Log(pdk.LogDebug, fmt.Sprintf(format, args...)) }

// LogInfo logs a formatted message through the host at info level.
func LogInfo(format string, args ...any) { pdk.Log(pdk.LogInfo, fmt.Sprintf(format, args...)) }

// LogWarn logs a formatted message through the host at warn level.
func LogWarn(format string, args ...any) { pdk.Log(pdk.LogWarn, fmt.Sprintf(format, args...)) }

// LogError logs a formatted message through the host at error level.
func LogError(format string, args ...any) { pdk.Log(pdk.LogError, fmt.Sprintf(format, args...)) }

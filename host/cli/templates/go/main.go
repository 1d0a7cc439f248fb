// Command {{name}} is a polyplug plugin: each `//go:wasmexport` function
// is one plugin function, JSON in and JSON out. tests/vectors/<function>/
// holds the cases `just test` checks.
package main

import polyplug "github.com/polyplug/polyplug/sdk/go"

type greetInput struct {
	Name string `json:"name"`
}

type greeting struct {
	Greeting string `json:"greeting"`
}

//go:wasmexport greet
func greetExport() int32 { return polyplug.Handle(greet) }

// greet: {"name": "Ada"} -> {"greeting": "Hello, Ada!"}. An input without a
// string `name` fails with `invalid_input` before this runs.
func greet(in greetInput) (greeting, error) {
	return greeting{Greeting: "Hello, " + in.Name + "!"}, nil
}

// main never runs in a reactor (-buildmode=c-shared) build; Go requires it.
func main() {}

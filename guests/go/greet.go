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

func greet(in greetInput) (greeting, error) {
	return greeting{Greeting: "Hello, " + in.Name + "!"}, nil
}

package polyplug

import (
	"errors"
	"fmt"
	"testing"
)

type greetIn struct {
	Name string `json:"name"`
}

type greetOut struct {
	Greeting string `json:"greeting"`
}

func greet(in greetIn) (greetOut, error) {
	switch in.Name {
	case "refuse":
		return greetOut{}, fmt.Errorf("wrapped: %w", Errorf(CodeInvalidInput, "no"))
	case "fail":
		return greetOut{}, errors.New("plain failure")
	case "crash":
		var m map[string]int
		m["x"] = 1 // a nil map write panics at run time
	}
	return greetOut{Greeting: "Hello, " + in.Name + "!"}, nil
}

func TestCall(t *testing.T) {
	cases := []struct {
		input, output, code string
	}{
		{`{"name":"<Ann>"}`, `{"greeting":"Hello, <Ann>!"}`, ""},
		{`{"name":7}`, "", CodeInvalidInput},
		{`{"name":"refuse"}`, "", CodeInvalidInput},
		{`{"name":"fail"}`, "", CodeInternal},
		{`{"name":"crash"}`, "", CodePanic},
	}
	for _, c := range cases {
		output, failure := call(greet, []byte(c.input))
		code := ""
		if failure != nil {
			code = failure.Code
		}
		if string(output) != c.output || code != c.code {
			t.Errorf("call(%s) = %s, %v; want %q, code %q", c.input, output, failure, c.output, c.code)
		}
	}
}

func TestErrorEncodesAsTheContractObject(t *testing.T) {
	got := string(Errorf(CodePanic, "bad \"%s\"", "x").encode())
	if want := `{"code":"panic","message":"bad \"x\""}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

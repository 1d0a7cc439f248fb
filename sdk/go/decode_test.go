package polyplug

import (
	"strings"
	"testing"
)

type item struct {
	Name  string   `json:"name"`
	Count uint64   `json:"count"`
	Delta int32    `json:"delta,omitempty"`
	Tags  []string `json:"tags,omitempty"`
	Tag   *string  `json:"tag,omitempty"`
}

func TestUnmarshalAcceptsTheContractShapes(t *testing.T) {
	var got item
	err := Unmarshal([]byte(` {"count":9007199254740991,"name":"a","delta":-0,"tag":"","other":[1.5,{}]} `), &got)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "a" || got.Count != MaxSafeInteger || got.Delta != 0 || got.Tags != nil || got.Tag == nil || *got.Tag != "" {
		t.Errorf("got %+v", got)
	}
}

func TestUnmarshalIntegerRule(t *testing.T) {
	cases := []struct {
		lexeme string
		ok     bool
	}{
		{"0", true},
		{"-0", true},
		{"9007199254740991", true},
		{"9007199254740992", false},
		{"18446744073709551616", false},
		{"2.0", false},
		{"2e0", false},
		{"-1", false}, // count is unsigned
	}
	for _, c := range cases {
		var got item
		err := Unmarshal([]byte(`{"name":"","count":`+c.lexeme+`}`), &got)
		if (err == nil) != c.ok {
			t.Errorf("count %s: err = %v, want ok=%v", c.lexeme, err, c.ok)
		}
	}
	var signed struct {
		N int8 `json:"n"`
	}
	if err := Unmarshal([]byte(`{"n":-128}`), &signed); err != nil || signed.N != -128 {
		t.Errorf("int8 -128: %v, %d", err, signed.N)
	}
	if err := Unmarshal([]byte(`{"n":128}`), &signed); err == nil {
		t.Error("int8 128: want an error")
	}
}

func TestUnmarshalRejectsWithThePath(t *testing.T) {
	cases := map[string]string{
		`{"count":1}`:                           "`name`: missing",
		`{"Name":"a","count":1}`:                "`name`: missing", // keys match exactly
		`{"name":null,"count":1}`:               "`name`: expected a string, got null",
		`{"name":"a","count":1,"tags":null}`:    "`tags`: expected an array, got null",
		`{"name":"a","count":1,"tags":["x",1]}`: "`tags[1]`: expected a string, got the number 1",
		`[]`:                                    "the document: expected an object, got an array",
		`{"name":"a","name":"b","count":1}`:     "duplicate key `name`",
		`{"name":"a","count":1} {}`:             "data after the end",
		`{"name":"a","count":1`:                 "unexpected EOF",
		"{\"name\":\"\xff\",\"count\":1}":       "not valid UTF-8",
	}
	for input, want := range cases {
		var got item
		err := Unmarshal([]byte(input), &got)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Unmarshal(%s) = %v, want an error containing %q", input, err, want)
		}
	}
}

func TestUnmarshalLimitsNesting(t *testing.T) {
	var v any
	ok := strings.Repeat("[", 128) + strings.Repeat("]", 128)
	if err := Unmarshal([]byte(ok), &v); err != nil {
		t.Errorf("128 levels: %v", err)
	}
	deep := "[" + ok + "]"
	if err := Unmarshal([]byte(deep), &v); err == nil {
		t.Error("129 levels: want an error")
	}
}

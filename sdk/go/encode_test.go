package polyplug

import (
	"encoding/json"
	"math"
	"testing"
)

func TestMarshalEscapesStringsLikeSerdeJSON(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"quote and backslash", `"\`, `"\"\\"`},
		{"short escapes", "\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"other controls in lowercase hex", "\x00\x1f\x0b", `"\u0000\u001f\u000b"`},
		{"html and slash stay raw", "</a>&", `"</a>&"`},
		{"del and line separators stay raw", "\x7f\u2028\u2029", "\"\x7f\u2028\u2029\""},
		{"non-ascii stays raw", "é😀", `"é😀"`},
	}
	for _, c := range cases {
		got, err := Marshal(c.in)
		if err != nil || string(got) != c.want {
			t.Errorf("%s: Marshal(%q) = %s, %v; want %s", c.name, c.in, got, err, c.want)
		}
	}
}

func TestMarshalReplacesInvalidUTF8(t *testing.T) {
	got, _ := Marshal("a\xffb")
	if string(got) != "\"a\uFFFDb\"" {
		t.Errorf("got %q", got)
	}
}

func TestMarshalIsCompactInFieldOrder(t *testing.T) {
	type inner struct {
		Z      int      `json:"z"`
		A      []string `json:"a"`
		Skip   string   `json:"-"`
		Opt    *int     `json:"opt,omitempty"`
		hidden int
	}
	type outer struct {
		Name  string            `json:"name"`
		Inner inner             `json:"inner"`
		Map   map[string]uint64 `json:"map"`
		Raw   RawJSON           `json:"raw"`
		Any   any               `json:"any"`
		Flag  bool
	}
	v := outer{
		Name:  "x",
		Inner: inner{Z: -3},
		Map:   map[string]uint64{"b": 2, "a": 1},
		Raw:   RawJSON(`{"kept" : [1.50, "\u00e9"]}`),
	}
	want := `{"name":"x","inner":{"z":-3,"a":[]},"map":{"a":1,"b":2},"raw":{"kept" : [1.50, "\u00e9"]},"any":null,"Flag":false}`
	got, err := Marshal(v)
	if err != nil || string(got) != want {
		t.Errorf("got %s, %v\nwant %s", got, err, want)
	}
}

func TestMarshalRejectsWhatJSONCannotHold(t *testing.T) {
	for _, v := range []any{math.NaN(), math.Inf(1), make(chan int), map[int]int{1: 1}} {
		if got, err := Marshal(v); err == nil {
			t.Errorf("Marshal(%T) = %s, want an error", v, got)
		}
	}
}

func TestMarshalWritesNumbersDecodedIntoAnyAsTheyWereWritten(t *testing.T) {
	var doc any
	text := `{"big":12345678901234567890,"price":2.50,"small":-0,"tiny":1e-7}`
	if err := Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	if got, err := Marshal(doc); err != nil || string(got) != text {
		t.Errorf("got %s, %v; want %s", got, err, text)
	}
	for _, bad := range []json.Number{"", "1 ", " 1", "abc", "1.", "0x10", "-"} {
		if got, err := Marshal(bad); err == nil {
			t.Errorf("Marshal(json.Number(%q)) = %s; want an error", bad, got)
		}
	}
}

package polyplug

import (
	"strings"
	"testing"
)

func TestParseRawJSONTrimsOnlyJSONWhitespace(t *testing.T) {
	got, err := ParseRawJSON([]byte("\r\n\t { \"a\" : [ 1 , 2 ] }\t\r\n "))
	if err != nil || string(got) != `{ "a" : [ 1 , 2 ] }` {
		t.Errorf("got %q, %v", got, err)
	}
	for _, body := range []string{"", " ", "\f{}", "\xef\xbb\xbf{}", `{"a":"x` + "\t" + `y"}`, "{} x", `{"a":"` + "\xff" + `"}`} {
		if _, err := ParseRawJSON([]byte(body)); err == nil {
			t.Errorf("ParseRawJSON(%q): want an error", body)
		}
	}
}

func TestParseRawJSONLeavesOutputChecksToTheHost(t *testing.T) {
	for _, body := range []string{`{"a":1,"a":2}`, `"\ud800"`} {
		if got, err := ParseRawJSON([]byte(body)); err != nil || string(got) != body {
			t.Errorf("ParseRawJSON(%s) = %q, %v; want it unchanged", body, got, err)
		}
	}
}

func TestParseRawJSONLimitsNestingTo127(t *testing.T) {
	ok := strings.Repeat("[", 127) + strings.Repeat("]", 127)
	if _, err := ParseRawJSON([]byte(ok)); err != nil {
		t.Errorf("127 levels: %v", err)
	}
	if _, err := ParseRawJSON([]byte("[" + ok + "]")); err == nil {
		t.Error("128 levels: want an error")
	}
}

func TestNestingDepth(t *testing.T) {
	cases := map[string]int{
		`1.5`:                     0,
		`"[{"`:                    0,
		`[]`:                      1,
		`{"a":[[1]],"b":[{}]}`:    3,
		`["[[\"{{\\",{"k[":"]"}]`: 2,
	}
	for doc, want := range cases {
		if got := nestingDepth([]byte(doc)); got != want {
			t.Errorf("nestingDepth(%s) = %d, want %d", doc, got, want)
		}
	}
}

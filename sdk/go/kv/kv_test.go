package kv

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	polyplug "github.com/polyplug/polyplug/sdk/go"
)

func encoded(t *testing.T, r request) string {
	t.Helper()
	text, err := polyplug.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

func TestRequestsLeaveOutWhatTheyDoNotUse(t *testing.T) {
	key, version, by := "k", uint64(0), int64(-3)
	value, err := encode(map[string]any{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]request{
		`{"op":"get","key":"k"}`:                             {Op: "get", Key: &key},
		`{"op":"cas","key":"k","value":{"n":1},"version":0}`: {Op: "cas", Key: &key, Version: &version, Value: value},
		`{"op":"increment","key":"k","by":-3}`:               {Op: "increment", Key: &key, By: &by},
		`{"op":"list","prefix":""}`:                          listRequest("", nil, 0),
		`{"op":"list","prefix":"a","cursor":"","limit":2}`:   listRequest("a", new(string), 2),
	}
	for want, r := range cases {
		if got := encoded(t, r); got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

func TestValuesEncodeCanonicallyAndNilIsNull(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{nil, "null"},
		{"x\u2028", "\"x\u2028\""},
		{polyplug.RawJSON(" [1, 2.50] \n"), "[1, 2.50]"},
		{9007199254740993, "9007199254740993"},
	} {
		got, err := encode(c.v)
		if err != nil || string(got) != c.want {
			t.Errorf("encode(%v) = %s, %v; want %s", c.v, got, err, c.want)
		}
	}
	_, err := encode(polyplug.RawJSON("{"))
	assertCode(t, err, CodeInvalidValue)
	_, err = encode(func() {})
	assertCode(t, err, CodeInvalidValue)
}

func TestGetReadsTheValueAndVersionOrReportsAMissingKeyAsVersionZero(t *testing.T) {
	var cart struct {
		Items []int `json:"items"`
	}
	version, err := readGet([]byte(`{"ok":{"value":{"items":[1,2]},"version":41}}`), "cart", &cart)
	if err != nil || version != 41 || !reflect.DeepEqual(cart.Items, []int{1, 2}) {
		t.Errorf("got %v, %d, %v", cart, version, err)
	}
	n := 7
	version, err = readGet([]byte(`{"ok":null}`), "nope", &n)
	if err != nil || version != 0 || n != 7 {
		t.Errorf("a missing key: got %d, %d, %v", n, version, err)
	}
	var raw polyplug.RawJSON
	version, err = readGet([]byte(`{"ok":{"value":null,"version":3}}`), "k", &raw)
	if err != nil || version != 3 || string(raw) != "null" {
		t.Errorf("a null value: got %s, %d, %v", raw, version, err)
	}
	version, err = readGet([]byte(`{"ok":{"value":[1,2.50,12345678901234567890],"version":4}}`), "k", &raw)
	if err != nil || version != 4 || string(raw) != "[1,2.50,12345678901234567890]" {
		t.Errorf("raw text: got %s, %d, %v", raw, version, err)
	}
}

func TestAValueThatDoesNotFitIsAnInvalidValueNamingTheKey(t *testing.T) {
	var n int64
	for _, value := range []string{`"3"`, `1.5`, `9007199254740992`, `null`} {
		_, err := readGet([]byte(`{"ok":{"value":`+value+`,"version":1}}`), "hits", &n)
		e := assertCode(t, err, CodeInvalidValue)
		if e != nil && !strings.Contains(e.Message, "`hits`") {
			t.Errorf("%s: the message does not name the key: %s", value, e.Message)
		}
	}
}

func TestHostErrorsComeBackWithTheirCode(t *testing.T) {
	for _, code := range []string{CodeNotGranted, CodeOverflow, CodeNamespaceFull, CodeUnavailable} {
		var counter Counter
		err := decode([]byte(`{"error":{"code":"`+code+`","message":"why"}}`), &counter)
		if e := assertCode(t, err, code); e != nil && e.Message != "why" {
			t.Errorf("message %q", e.Message)
		}
	}
}

func TestUnreadableAnswersAreInvalidRequests(t *testing.T) {
	for _, text := range []string{``, `[]`, `{}`, `{"error":{}}`, `{"ok":{"value":"x","version":1}}`, `{"ok":{"value":1}}`} {
		var counter Counter
		var err error
		if text == `{"ok":{"value":1}}` {
			_, err = readGet([]byte(text), "k", new(int))
		} else {
			err = decode([]byte(text), &counter)
		}
		assertCode(t, err, CodeInvalidRequest)
	}
}

func TestCountersKeepNegativeAndLargeValuesExact(t *testing.T) {
	var counter Counter
	err := decode([]byte(`{"ok":{"value":-9007199254740991,"version":9007199254740990}}`), &counter)
	if err != nil || counter != (Counter{Value: -MaxCounter, Version: MaxCounter - 1}) {
		t.Errorf("got %+v, %v", counter, err)
	}
}

func TestListPagesCarryACursorOnlyWhenMoreMayFollow(t *testing.T) {
	page, err := readList([]byte(`{"ok":{"items":[{"key":"a","version":1},{"key":"","version":2}],"cursor":""}}`))
	if err != nil || len(page.Items) != 2 || page.Items[1] != (Item{Key: "", Version: 2}) {
		t.Fatalf("got %+v, %v", page, err)
	}
	if page.Cursor == nil || *page.Cursor != "" {
		t.Errorf("an empty cursor is a cursor: %v", page.Cursor)
	}
	page, err = readList([]byte(`{"ok":{"items":[]}}`))
	if err != nil || page.Cursor != nil || page.Items == nil {
		t.Errorf("last page: got %+v, %v", page, err)
	}
}

func TestWithoutAHostEveryOperationIsUnavailable(t *testing.T) {
	_, err := Increment("k", 1)
	assertCode(t, err, CodeUnavailable)
	_, err = Get("k", new(int))
	assertCode(t, err, CodeUnavailable)
}

// assertCode checks that err is a *polyplug.Error with code, found with errors.As.
func assertCode(t *testing.T, err error, code string) *polyplug.Error {
	t.Helper()
	var e *polyplug.Error
	if !errors.As(err, &e) {
		t.Errorf("want a *polyplug.Error with code %s, got %v", code, err)
		return nil
	}
	if e.Code != code {
		t.Errorf("want code %s, got %s (%s)", code, e.Code, e.Message)
	}
	return e
}

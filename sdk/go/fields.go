package polyplug

import (
	"fmt"
	"reflect"
	"strings"
)

// field is a struct field as JSON sees it.
type field struct {
	index     int
	name      string // the JSON key: the `json` tag's name, or the Go name
	omitEmpty bool   // on output, leave out when empty; on input, may be absent
}

// fieldsOf lists t's JSON fields in declaration order, reading `json` tags as
// encoding/json does, minus embedding: an embedded field would need
// encoding/json's promotion rules, so it is rejected as a programming error.
func fieldsOf(t reflect.Type) []field {
	var fields []field
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			panic(fmt.Sprintf("polyplug: embedded field %s in %s is not supported", sf.Name, t))
		}
		tag := sf.Tag.Get("json")
		if !sf.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = sf.Name
		}
		omitEmpty := false
		for _, opt := range strings.Split(opts, ",") {
			omitEmpty = omitEmpty || opt == "omitempty"
		}
		fields = append(fields, field{index: i, name: name, omitEmpty: omitEmpty})
	}
	return fields
}

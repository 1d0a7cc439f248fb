module github.com/polyplug/polyplug/tests/go/kv

go 1.24

require github.com/polyplug/polyplug/sdk/go v0.0.0

require github.com/extism/go-pdk v1.1.3 // indirect

replace github.com/polyplug/polyplug/sdk/go => ../../../sdk/go

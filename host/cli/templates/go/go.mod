module {{name}}

go {{go_version}}

require github.com/polyplug/polyplug/sdk/go v0.0.0

{{go_requires}}
// The polyplug Go SDK, the copy `polyplug new` wrote into .polyplug/ (it
// matches the polyplug that made this project). Once the module is
// published, delete this line and the v0.0.0 require above, then run
// `go get github.com/polyplug/polyplug/sdk/go@latest` and delete .polyplug/.
replace github.com/polyplug/polyplug/sdk/go => ./.polyplug/sdk/go

package main

import polyplug "github.com/polyplug/polyplug/sdk/go"

type fetchInput struct {
	URL string `json:"url"`
}

type fetchResult struct {
	Status int              `json:"status"`
	JSON   polyplug.RawJSON `json:"json"`
}

//go:wasmexport fetch_json
func fetchJSONExport() int32 { return polyplug.Handle(fetchJSON) }

func fetchJSON(in fetchInput) (fetchResult, error) {
	status, body := polyplug.HTTPGet(in.URL)
	doc, err := polyplug.ParseRawJSON(body)
	if err != nil {
		return fetchResult{}, polyplug.Errorf(polyplug.CodeUpstreamError,
			"response from `%s` (status %d) is not one JSON document: %v", in.URL, status, err)
	}
	return fetchResult{Status: status, JSON: doc}, nil
}

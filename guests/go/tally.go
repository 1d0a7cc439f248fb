package main

import (
	"errors"

	polyplug "github.com/polyplug/polyplug/sdk/go"
	"github.com/polyplug/polyplug/sdk/go/kv"
)

type tallyInput struct {
	Key string `json:"key"`
	By  uint64 `json:"by"` // the contract's integer: 0..=2^53-1
}

type tallyOutput struct {
	Key   string `json:"key"`
	Value int64  `json:"value"`
}

//go:wasmexport tally
func tallyExport() int32 { return polyplug.Handle(tally) }

// tally adds by to the counter key in the plugin's key-value store, in one
// atomic operation of the host, and returns the counter's new value. The
// store's errors reach the caller with their kv_* codes.
func tally(in tallyInput) (tallyOutput, error) {
	counter, err := kv.Increment(in.Key, int64(in.By))
	if err != nil {
		return tallyOutput{}, err
	}
	return tallyOutput{Key: in.Key, Value: counter.Value}, nil
}

//go:wasmexport tally_cas
func tallyCASExport() int32 { return polyplug.Handle(tallyCAS) }

// tallyCAS is tally done with a read and a compare-and-swap, retried until no
// other writer came in between (docs/contract.md, section 5.9).
func tallyCAS(in tallyInput) (tallyOutput, error) {
	for {
		var current int64
		version, err := kv.Get(in.Key, &current)
		var e *polyplug.Error
		if errors.As(err, &e) && e.Code == kv.CodeInvalidValue {
			return tallyOutput{}, polyplug.Errorf(kv.CodeNotAnInteger,
				"`%s` does not hold an integer within ±(2^53-1)", in.Key)
		}
		if err != nil {
			return tallyOutput{}, err
		}
		next := current + int64(in.By) // both within 2^53-1: no wrap
		if next > kv.MaxCounter {
			return tallyOutput{}, polyplug.Errorf(kv.CodeOverflow,
				"`%s`: %d + %d is past 2^53-1", in.Key, current, in.By)
		}
		swapped, _, err := kv.CompareAndSwap(in.Key, version, next)
		if err != nil {
			return tallyOutput{}, err
		}
		if swapped {
			return tallyOutput{Key: in.Key, Value: next}, nil
		}
	}
}

package polyplug

import "errors"

// call is the host-independent core of [Handle]: it decodes input into In,
// runs fn and encodes its result. Every failure, including a panic in fn,
// comes back as an [*Error], because a Go panic would otherwise reach only
// WASI stderr and the host would see a bare trap.
func call[In, Out any](fn func(In) (Out, error), input []byte) (output []byte, failure *Error) {
	defer func() {
		if r := recover(); r != nil {
			output, failure = nil, Errorf(CodePanic, "%v", r)
		}
	}()

	var in In
	if err := Unmarshal(input, &in); err != nil {
		return nil, Errorf(CodeInvalidInput, "%v", err)
	}
	out, err := fn(in)
	if err != nil {
		return nil, asError(err)
	}
	output, err = Marshal(out)
	if err != nil {
		// Only a plugin bug (an unsupported type, a NaN) gets here.
		return nil, Errorf(CodePanic, "encoding the output: %v", err)
	}
	return output, nil
}

// asError finds the contract error in err's chain, or wraps err as an
// internal error so the host still gets a contract error object.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e
	}
	return &Error{Code: CodeInternal, Message: err.Error()}
}

// encode renders the error object. Marshal cannot fail on two strings.
func (e *Error) encode() []byte {
	b, _ := Marshal(e)
	return b
}

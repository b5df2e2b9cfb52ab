package cg

import (
	"errors"
	"fmt"
)

// Error codes. Front-ends map them to an HTTP status or a Slack reply.
const (
	EINVALID      = "invalid"      // the input is wrong; the message says how to fix it
	ENOTFOUND     = "not_found"    // the thing named does not exist
	ECONFLICT     = "conflict"     // it exists already, or its state forbids the change
	EUNAUTHORIZED = "unauthorized" // no valid credentials were presented
	EFORBIDDEN    = "forbidden"    // valid credentials, but not allowed to do this
	ETOOLARGE     = "too_large"    // the request is larger than allowed
	EUNAVAILABLE  = "unavailable"  // a dependency (Grafana, Slack, a database) is down or refused us
	ERATELIMITED  = "rate_limited" // too many failed attempts from one client; try again later
	EINTERNAL     = "internal"     // a bug or an unexpected failure; details are only logged
)

// Error is an error a person can act on: Code says what class of problem it is, Message
// says what was wrong and what to do. Err, if set, is the underlying cause; it is logged
// but never shown to the user.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error with the given code and message whose cause is err.
func WrapError(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other
// error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message a user may see: the *Error's message, or
// "internal error" for anything else.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

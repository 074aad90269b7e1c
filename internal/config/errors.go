package config

import (
	"errors"
	"fmt"
)

// Sentinel errors, wrapped by *KeyError and the other errors of this package;
// check them with errors.Is.
var (
	// ErrMissingKey: a required key ("host", "app_id", "timeout", or
	// "auth.scheme"/"auth.data" when "auth" is present) is absent.
	ErrMissingKey = errors.New("missing required key")
	// ErrWrongType: a key holds a JSON value of the wrong type.
	ErrWrongType = errors.New("wrong type")
	// ErrInvalidValue: a key has the right type but an unusable value.
	ErrInvalidValue = errors.New("invalid value")
	// ErrEmpty: the file is empty or holds only white space.
	ErrEmpty = errors.New("config: file is empty, want a JSON object")
	// ErrTooLarge: the file is larger than MaxFileSize.
	ErrTooLarge = fmt.Errorf("config: file is larger than %d bytes", MaxFileSize)
	// ErrSyntax: the file is not valid JSON; the error is a *SyntaxError.
	ErrSyntax = errors.New("config: invalid JSON")
	// ErrInvalidLockName: returned (wrapped) by ValidateLockName and
	// ValidateLockPath.
	ErrInvalidLockName = errors.New("invalid lock name")
	// ErrTooManySlots: returned (wrapped) by ValidateLockPath for a
	// semaphore of more than MaxSlots slots.
	ErrTooManySlots = fmt.Errorf("a semaphore has at most %d slots", MaxSlots)
)

// KeyError reports a problem with one configuration key. Key is the key as
// written in the file, nested keys joined by a dot ("logger.level").
// Err wraps one of ErrMissingKey, ErrWrongType or ErrInvalidValue.
// Neither field ever holds the "auth.data" secret.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return fmt.Sprintf("config: %q: %v", e.Key, e.Err) }

func (e *KeyError) Unwrap() error { return e.Err }

// problem is the Err of a KeyError: a message of its own, unwrapping to a
// sentinel that the message does not repeat.
type problem struct {
	kind error
	msg  string
}

func (p *problem) Error() string { return p.msg }

func (p *problem) Unwrap() error { return p.kind }

func keyErr(key string, kind error, format string, args ...any) *KeyError {
	return &KeyError{Key: key, Err: &problem{kind: kind, msg: fmt.Sprintf(format, args...)}}
}

func missing(key string) *KeyError { return &KeyError{Key: key, Err: ErrMissingKey} }

// SyntaxError reports a file that is not one valid JSON object, at a
// 1-based line and column (counted in characters, not bytes).
type SyntaxError struct {
	Line, Column int
	Msg          string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("config: line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// Is makes errors.Is(err, ErrSyntax) true for every *SyntaxError.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

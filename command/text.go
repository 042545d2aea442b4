package command

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Limits on the identifiers a command carries besides its input.
const (
	// MaxCommandIDLen bounds a command id (an Idempotency-Key).
	MaxCommandIDLen = 128
	// MaxCorrelationIDLen bounds a correlation id (a request id).
	MaxCorrelationIDLen = 128
)

// textProblem describes what is wrong with free text s (names,
// descriptions, reasons, paths): it must be valid UTF-8, at most maxLen
// bytes, and hold no control character (C0, DEL or C1); with multiline,
// tab, line feed and carriage return are allowed. It returns "" when s is
// fine.
func textProblem(s string, maxLen int, multiline bool) string {
	if len(s) > maxLen {
		return fmt.Sprintf("is %d bytes; the limit is %d", len(s), maxLen)
	}
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size != 3 { // not U+FFFD itself
				return fmt.Sprintf("is not valid UTF-8 at byte %d", i)
			}
		case multiline && (r == '\t' || r == '\n' || r == '\r'):
		case unicode.IsControl(r):
			return fmt.Sprintf("has a control character (%U) at byte %d", r, i)
		}
	}
	return ""
}

// validText is textProblem as a command error with code.
func validText(code, field, s string, maxLen int, multiline bool) error {
	if p := textProblem(s, maxLen, multiline); p != "" {
		return errorf(ErrInvalid, code, "%s %s", field, p)
	}
	return nil
}

package api

import (
	"bytes"
	"errors"
	"net/http"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
)

// Request size limits, the same on every edge (NATS itself usually bounds
// payloads to 1 MiB).
const (
	MaxRequestBytes = 1 << 20
	// MaxBatchRequestBytes bounds a bulk assignment (10,000 assignments).
	MaxBatchRequestBytes = 8 << 20
)

// TooLarge is the refusal of a request over limit bytes.
func TooLarge(limit int) *Error {
	return Errorf(http.StatusRequestEntityTooLarge, "requestTooLarge", "request body exceeds %d bytes; split the request", limit)
}

// Decode reads a request's JSON into v strictly, as every edge does:
// unknown fields, trailing data, invalid UTF-8 (which decoding would
// silently replace with U+FFFD), an empty body and a body over limit are
// refused with a 4xx *Error. Bodies are decoded with goccy/go-json: a batch
// of 1,000 checks spends most of its time in JSON.
func Decode(data []byte, v any, limit int) error {
	if len(data) > limit {
		return TooLarge(limit)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return Bad("malformedJson", "request body is empty; send a JSON object")
	}
	if !utf8.Valid(data) {
		at := 0
		for at < len(data) {
			_, size := utf8.DecodeRune(data[at:])
			if size == 1 && data[at] >= utf8.RuneSelf {
				break
			}
			at += size
		}
		return Bad("invalidUtf8", "request body is not valid UTF-8 (byte %d); send JSON encoded in UTF-8", at)
	}
	dec := gojson.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("unexpected data after the JSON value")
	}
	if err != nil {
		return Bad("malformedJson", "request body is not valid JSON for this endpoint: %s", err.Error())
	}
	return nil
}

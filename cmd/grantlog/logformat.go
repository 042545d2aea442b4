package main

import (
	"fmt"
	"io"
	"log/slog"
)

// Log formats of grantlog serve (--log-format).
const (
	logFormatText = "text"
	logFormatJSON = "json"
)

// newLogger is grantlog serve's logger: slog's text handler (logfmt-like
// key=value lines) or its JSON handler (one object per line), at level.
func newLogger(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case logFormatText, "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case logFormatJSON:
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

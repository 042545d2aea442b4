package natsapi_test

import (
	"io"
	"log/slog"

	"github.com/grantlog/grantlog/internal/edge/natsapi"
	"github.com/grantlog/grantlog/internal/metrics"
)

type benchNATSConfig struct {
	name string
	cfg  natsapi.Config
}

func benchNATSConfigs() []benchNATSConfig {
	return []benchNATSConfig{
		{"default", natsapi.Config{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}},
		// What grantlog serve runs: metrics on, JSON access log at info
		// (checks log at debug: not written).
		{"metrics", natsapi.Config{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Metrics: metrics.New()}},
		// Every check logged.
		{"metrics+debuglog", natsapi.Config{Logger: slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Metrics: metrics.New()}},
	}
}

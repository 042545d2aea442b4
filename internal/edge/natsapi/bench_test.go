package natsapi_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/edge/api"
	"github.com/grantlog/grantlog/internal/edge/natsapi"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
)

// BenchmarkNATSCheck measures grantlog.v1.check through the micro service
// on an in-process NATS server (request, answer and the client's side of
// the round trip, all counted), answered by the fake checker: what the
// edge adds to a check.
func BenchmarkNATSCheck(b *testing.B) {
	for _, bc := range benchNATSConfigs() {
		b.Run(bc.name, func(b *testing.B) {
			e, err := eventlog.StartEmbedded(eventlog.EmbeddedConfig{DataDir: b.TempDir(), NoListen: true, NoUsers: true})
			require.NoError(b, err)
			defer e.Close()
			cfg := bc.cfg
			cfg.Conn, cfg.Serve, cfg.Deps, cfg.Checks, cfg.Auth = e.Conn, []api.Kind{api.Check}, &api.Deps{}, &fake{rev: 5}, auth{}
			svc, err := natsapi.Start(cfg)
			require.NoError(b, err)
			defer func() { _ = svc.Close() }()
			m := nats.NewMsg(natsapi.CheckSubject)
			m.Data = []byte(`{"subject":{"type":"user","id":"yes"},"namespace":"g","resource":"R","action":2}`)
			m.Header.Set(natsapi.AuthorizationHeader, "Bearer ok")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Conn.RequestMsg(m, 5*time.Second); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

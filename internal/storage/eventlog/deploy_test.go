package eventlog_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
)

// DeployConfig renders deploy/nats/nats.conf: the same accounts and
// permissions as the embedded server, passwords from the environment.
func DeployConfig() (string, error) {
	return eventlog.AccountsConfig(eventlog.AccountsParams{
		Header: `# NATS with JetStream for Grantlog (one region). GENERATED from
# internal/storage/eventlog/accounts.go (the embedded server uses the same design):
# edit that file and run
#   GRANTLOG_UPDATE_DEPLOY=1 go test ./internal/storage/eventlog -run TestDeployNATSConfig
# Every write is fsynced: acknowledged permission changes must survive a
# power failure. Accounts and permissions: docs/SECURITY.md.
port: 4222
http: 8222`,
		ServerName: "$NATS_SERVER_NAME", StoreDir: "/data", SyncAlways: true,
		Command: "$GRANTLOG_NATS_COMMAND_PASSWORD", Replica: "$GRANTLOG_NATS_REPLICA_PASSWORD",
		Follower: "$GRANTLOG_NATS_FOLLOWER_PASSWORD", Client: "$GRANTLOG_NATS_CLIENT_PASSWORD",
		Stream: eventlog.DefaultStream, Prefix: events.DefaultSubjectPrefix, Bucket: eventlog.DefaultSnapshotBucket,
	})
}

// TestDeployNATSConfig keeps deploy/nats/nats.conf what AccountsConfig
// renders, so the embedded server and the shipped configuration implement
// one design.
func TestDeployNATSConfig(t *testing.T) {
	want, err := DeployConfig()
	require.NoError(t, err)
	path := filepath.Join("..", "..", "..", "deploy", "nats", "nats.conf")
	if os.Getenv("GRANTLOG_UPDATE_DEPLOY") == "1" {
		require.NoError(t, os.WriteFile(path, []byte(want), 0o644))
	}
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, want, string(got), "deploy/nats/nats.conf is stale: run GRANTLOG_UPDATE_DEPLOY=1 go test ./internal/storage/eventlog -run TestDeployNATSConfig")
}

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

// HomeConfig renders deploy/nats/home.conf: a member of the home region's
// three-node cluster (R3 event stream), with the links other regions
// mirror through.
func HomeConfig() (string, error) {
	return eventlog.AccountsConfig(eventlog.AccountsParams{
		Header: `# A member of the HOME region's NATS cluster for Grantlog (three of them
# hold the event stream R3). GENERATED from internal/storage/eventlog/accounts.go:
# edit that file and run
#   GRANTLOG_UPDATE_DEPLOY=1 go test ./internal/storage/eventlog -run TestDeployNATSConfig
# Run each member with its name and the routes to the others, e.g.
#   NATS_SERVER_NAME=nats-home-1 nats-server -c home.conf \
#     --routes nats://nats-home-2:6222,nats://nats-home-3:6222
# Other regions (region.conf) connect to the leaf node port with the
# region-events and region-snapshots users. Accounts and permissions:
# docs/SECURITY.md. Every write is fsynced.
port: 4222
http: 8222
cluster {
  name: home
  port: 6222
}
leafnodes {
  port: 7422
}`,
		ServerName: "$NATS_SERVER_NAME", StoreDir: "/data", SyncAlways: true, Domain: "home",
		Command: "$GRANTLOG_NATS_COMMAND_PASSWORD", Replica: "$GRANTLOG_NATS_REPLICA_PASSWORD",
		Follower: "$GRANTLOG_NATS_FOLLOWER_PASSWORD", Client: "$GRANTLOG_NATS_CLIENT_PASSWORD",
		Region: "$GRANTLOG_NATS_REGION_PASSWORD",
		Stream: eventlog.DefaultStream, Prefix: events.DefaultSubjectPrefix, Bucket: eventlog.DefaultSnapshotBucket,
	})
}

// RegionConfig renders deploy/nats/region.conf: the NATS server of
// another region.
func RegionConfig() (string, error) {
	return eventlog.RegionConfig(eventlog.RegionParams{
		Header: `# The NATS server of a region other than the home region, for Grantlog:
# its own JetStream domain ($GRANTLOG_REGION) with a mirror of the event
# stream and of the snapshot bucket, linked to the home region by leaf
# nodes. GENERATED from internal/storage/eventlog/accounts.go: edit that
# file and run
#   GRANTLOG_UPDATE_DEPLOY=1 go test ./internal/storage/eventlog -run TestDeployNATSConfig
# The three GRANTLOG_LEAF_*_URL variables name a home cluster member's leaf
# node port with the user and password of each link, e.g.
#   GRANTLOG_LEAF_EVENTS_URL=nats-leaf://region-events:$GRANTLOG_NATS_REGION_PASSWORD@nats-home-1:7422
#   GRANTLOG_LEAF_SNAPSHOTS_URL=nats-leaf://region-snapshots:$GRANTLOG_NATS_REGION_PASSWORD@nats-home-1:7422
#   GRANTLOG_LEAF_COMMAND_URL=nats-leaf://command:$GRANTLOG_NATS_COMMAND_PASSWORD@nats-home-1:7422
# (the home cluster tells the leaf node its other members' addresses).
# Accounts and permissions: docs/SECURITY.md. Every write is fsynced.
port: 4222
http: 8222`,
		ServerName: "$NATS_SERVER_NAME", StoreDir: "/data", SyncAlways: true, Domain: "$GRANTLOG_REGION",
		Command: "$GRANTLOG_NATS_COMMAND_PASSWORD", Replica: "$GRANTLOG_NATS_REPLICA_PASSWORD",
		Follower: "$GRANTLOG_NATS_FOLLOWER_PASSWORD", Client: "$GRANTLOG_NATS_CLIENT_PASSWORD",
		EventsURL: "$GRANTLOG_LEAF_EVENTS_URL", SnapshotsURL: "$GRANTLOG_LEAF_SNAPSHOTS_URL", CommandURL: "$GRANTLOG_LEAF_COMMAND_URL",
		Stream: eventlog.DefaultStream, Prefix: events.DefaultSubjectPrefix, Bucket: eventlog.DefaultSnapshotBucket,
	})
}

// TestDeployNATSConfig keeps deploy/nats/*.conf what AccountsConfig and
// RegionConfig render, so the embedded server and the shipped
// configurations implement one design.
func TestDeployNATSConfig(t *testing.T) {
	for file, render := range map[string]func() (string, error){"nats.conf": DeployConfig, "home.conf": HomeConfig, "region.conf": RegionConfig} {
		want, err := render()
		require.NoError(t, err)
		path := filepath.Join("..", "..", "..", "deploy", "nats", file)
		if os.Getenv("GRANTLOG_UPDATE_DEPLOY") == "1" {
			require.NoError(t, os.WriteFile(path, []byte(want), 0o644))
		}
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, want, string(got), "deploy/nats/%s is stale: run GRANTLOG_UPDATE_DEPLOY=1 go test ./internal/storage/eventlog -run TestDeployNATSConfig", file)
	}
}

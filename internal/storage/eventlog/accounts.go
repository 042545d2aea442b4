package eventlog

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"text/template"
)

// The NATS accounts of a Grantlog deployment. Accounts are hard walls:
// subjects, streams and the JetStream API are per account, and only what
// one account exports and another imports crosses. docs/SECURITY.md
// explains the design; this file is its single source: the embedded server
// and deploy/nats/nats.conf are both rendered from AccountsConfig.
const (
	// StoreAccount holds the event stream and no users but the embedded
	// server's own: nobody can make a JetStream responder act where the
	// stream is. It exports to CommandAccount the publishing of events and
	// reads of the stream (and its creation), and to MirrorAccount the
	// mirror's consumer.
	StoreAccount = "STORE"
	// CommandAccount holds the command side (command and role all nodes),
	// the snapshot bucket and the log signing key. Only its users can
	// publish events (through StoreAccount's export).
	CommandAccount = "GRANTLOG"
	// MirrorAccount holds ReaderStream, a mirror of the event stream, and
	// no users but the embedded server's own: nobody can make a JetStream
	// responder act there. It exports read-only API subjects of the mirror
	// to ReadersAccount, and its creation to CommandAccount.
	MirrorAccount = "MIRROR"
	// ReadersAccount holds replicas and embedded followers. It has no
	// JetStream: they read the mirror and the snapshots through imported,
	// read-only API subjects (MirrorAPIPrefix, CommandAPIPrefix).
	ReadersAccount = "READERS"
	// ClientsAccount holds the API clients: they may only send requests to
	// the Grantlog API (imported from the two accounts above) and read the
	// replies sent to their own inbox prefix.
	ClientsAccount = "CLIENTS"
)

// ReaderStream is the readers' mirror of the event stream in
// MirrorAccount. It keeps the origin's sequence numbers, so a revision
// means the same thing everywhere. It must not be named like the event
// stream: see the note on the consumer-create export in AccountsConfig.
const ReaderStream = "GRANTLOG_MIRROR"

// CommandAPIPrefix is where ReadersAccount sees the JetStream API subjects
// of the snapshot bucket that CommandAccount exports to it.
const CommandAPIPrefix = "$JS.GRANTLOG.API"

// StoreAPIPrefix is where CommandAccount and MirrorAccount see the
// JetStream API subjects of the event stream that StoreAccount exports.
const StoreAPIPrefix = "$JS.STORE.API"

// MirrorAPIPrefix is where ReadersAccount and CommandAccount see the
// JetStream API subjects of ReaderStream that MirrorAccount exports.
const MirrorAPIPrefix = "$JS.MIRROR.API"

// MirrorDeliverPrefix is the deliver subject prefix of the mirror's
// consumer in StoreAccount, exported to MirrorAccount as a stream.
const MirrorDeliverPrefix = "grantlog.mirror"

// The home region's link accounts: another region's NATS server connects
// to each with a leaf node and mirrors through it (RegionConfig). Each
// has one leaf-node-only user, no JetStream and no exports: it imports
// from StoreAccount (RegionEventsAccount) or CommandAccount
// (RegionSnapshotsAccount) exactly what a mirror of the event stream or
// of the snapshot bucket needs — its consumer's creation, its deliveries
// and their flow control — so a region's credential reads; it can
// append, change or delete nothing.
const (
	RegionEventsAccount    = "REGION_EVENTS"
	RegionSnapshotsAccount = "REGION_SNAPSHOTS"
	// RegionEventsUser and RegionSnapshotsUser are their users (leaf
	// node connections only).
	RegionEventsUser    = "region-events"
	RegionSnapshotsUser = "region-snapshots"
	// SnapshotsAccount is, in a region's NATS server, the account that
	// holds the regional mirror of the snapshot bucket (its readers see it
	// where the home region's readers see the bucket itself).
	SnapshotsAccount = "SNAPSHOTS"
)

// SnapshotDeliverPrefix is the deliver subject prefix of a regional
// snapshot mirror's consumer on the snapshot bucket.
const SnapshotDeliverPrefix = "grantlog.snapmirror"

// SnapshotsAPIPrefix is where a region's CommandAccount sees the
// JetStream API of SnapshotsAccount (to create the regional snapshot
// mirror).
const SnapshotsAPIPrefix = "$JS.SNAPSHOTS.API"

// InboxPrefix is the inbox prefix of a NATS user: replies to its requests
// arrive under InboxPrefix(user)+".>", which only that user may subscribe
// to. Connect sets it for every Grantlog credentials file; other NATS
// clients set it with nats.CustomInboxPrefix (nats CLI: --inbox-prefix).
func InboxPrefix(user string) string { return "_INBOX_" + user }

// Users of the deployment's NATS server besides the embedded server's
// internal ones.
const (
	// CommandUser (CommandAccount) appends events, writes snapshots and
	// serves the NATS command API. It may not change, delete or purge the
	// event stream.
	CommandUser = "command"
	// ReplicaUser (ReadersAccount) is a replica node: it reads the mirror
	// (creating it when missing), reads snapshots, and serves the NATS
	// check API.
	ReplicaUser = "replica"
	// FollowerUser (ReadersAccount) is an embedded follower: it reads the
	// mirror and snapshots, nothing else.
	FollowerUser = "follower"
	// ClientUser (ClientsAccount) asks checks and sends commands over NATS.
	ClientUser = "client"
)

// internal users of the embedded server, one per account it serves in,
// with full permissions in their account. Their passwords are random per
// start and never leave the process.
const (
	internalUser       = "grantlog-internal"
	internalReaderUser = "grantlog-internal-reader"
	internalMirrorUser = "grantlog-internal-mirror"
	internalStoreUser  = "grantlog-internal-store"
)

// AccountsParams fills AccountsConfig. Each password is written as is
// into the configuration: a quoted literal for the embedded server, or an
// environment variable reference ($NAME) for deploy/nats.
type AccountsParams struct {
	// ServerName, StoreDir and SyncAlways go into the configuration's
	// jetstream block; an empty StoreDir leaves the block out (the embedded
	// server sets the store in its Options).
	ServerName, StoreDir string
	SyncAlways           bool
	// Header is a comment placed at the top.
	Header string
	// Command, Replica, Follower and Client are the passwords of the four
	// users.
	Command, Replica, Follower, Client string
	// Internal, InternalReader, InternalMirror and InternalStore, when set,
	// add the embedded server's internal users with these passwords.
	Internal, InternalReader, InternalMirror, InternalStore string
	// Stream, Prefix and Bucket are the event stream's name, its subject
	// prefix and the snapshot bucket.
	Stream, Prefix, Bucket string
	// Domain is the server's JetStream domain (regions: docs/SECURITY.md
	// "Regions"); "" leaves it out.
	Domain string
	// Region, when set, is the password of the leaf-node-only users that
	// other regions' NATS servers connect with (RegionEventsUser,
	// RegionSnapshotsUser): the home region's configuration then has the
	// link accounts RegionEventsAccount and RegionSnapshotsAccount.
	Region string
}

// Quote renders s as a quoted NATS configuration string.
func Quote(s string) string { return strconv.Quote(s) }

// AccountsConfig renders the accounts, users, permissions, exports and
// imports of a Grantlog NATS server.
//
// Why no path exists for anyone but the command side to get a message
// stored in the event stream, or to change a stream a reader relies on: NATS
// checks a user's publish permission on the subject, never on the reply
// subject, so whatever a user may ask, it may also have the answer (or a
// consumer's delivery) published on a subject of its choosing in its own
// account — including the JetStream API's own subjects, where an empty
// answer is a valid delete request. So no untrusted user shares an account
// with a stream or a JetStream responder:
//
//   - CommandAccount holds the event stream (and the snapshot bucket and the
//     signing key); its only users are the command side.
//   - MirrorAccount holds the readers' mirror and no user but the embedded
//     server's own. It exports only reads of the mirror (stream info,
//     consumer create/info/next for pull consumers, direct and message
//     gets) to ReadersAccount, and the mirror's creation to CommandAccount.
//   - ReadersAccount (replicas, followers) has no JetStream at all: an
//     answer a reader redirects lands on an imported read subject, which
//     reads. CommandAccount exports it only reads of the snapshot bucket.
//   - The mirror's consumer on the event stream (CommandAccount exports
//     $JS.API.CONSUMER.CREATE.<Stream> to MirrorAccount alone) cannot
//     deliver into the event subjects: the server refuses a delivery cycle.
//   - Replies that cross a service import go back to the requester's
//     account (a private _R_ subject in the exporter's).
//
// ClientsAccount imports the command API (grantlog.v1.cmd.>) from
// CommandAccount and the check API from ReadersAccount.
func AccountsConfig(p AccountsParams) (string, error) {
	if p.Stream == "" || p.Prefix == "" || p.Bucket == "" {
		return "", fmt.Errorf("eventlog: AccountsConfig needs Stream, Prefix and Bucket")
	}
	var b bytes.Buffer
	if err := accountsTemplate.Execute(&b, p); err != nil {
		return "", fmt.Errorf("eventlog: render accounts: %w", err)
	}
	return b.String(), nil
}

// mirrorReads are the read-only JetStream API subjects of ReaderStream,
// under the API prefix api: what MirrorAccount exports to ReadersAccount.
// No delete, no create of streams: a reply a reader sends there cannot
// change anything.
func mirrorReads(api string) []string {
	out := make([]string, 0, 7)
	for _, op := range []string{"STREAM.INFO.%s", "CONSUMER.CREATE.%s.>", "CONSUMER.INFO.%s.>", "CONSUMER.MSG.NEXT.%s.>",
		"DIRECT.GET.%s", "DIRECT.GET.%s.>", "STREAM.MSG.GET.%s"} {
		out = append(out, api+"."+fmt.Sprintf(op, ReaderStream))
	}
	return out
}

// storeReads are the JetStream API subjects of the event stream that
// StoreAccount exports to CommandAccount (under api): reads, pull
// consumers (the projector's and the audit's ordered consumers) and their
// cleanup. Nothing that changes or removes the stream.
func storeReads(api string) []string {
	out := make([]string, 0, 8)
	for _, op := range []string{"STREAM.INFO.%s", "CONSUMER.CREATE.%s.>", "CONSUMER.INFO.%s.>", "CONSUMER.DELETE.%s.>",
		"CONSUMER.MSG.NEXT.%s.>", "CONSUMER.LIST.%s", "CONSUMER.NAMES.%s", "DIRECT.GET.%s", "DIRECT.GET.%s.>", "STREAM.MSG.GET.%s"} {
		out = append(out, api+"."+fmt.Sprintf(op, DefaultStream))
	}
	return out
}

// snapReads are the read-only JetStream API subjects of the snapshot
// bucket's stream, under the API prefix api: what CommandAccount exports
// to ReadersAccount.
func snapReads(bucket, api string) []string {
	return []string{api + ".STREAM.INFO.OBJ_" + bucket, api + ".DIRECT.GET.OBJ_" + bucket, api + ".DIRECT.GET.OBJ_" + bucket + ".>"}
}

var accountsTemplate = template.Must(template.New("accounts").Funcs(template.FuncMap{
	"list": func(items ...any) string {
		var flat []string
		for _, x := range items {
			switch v := x.(type) {
			case string:
				flat = append(flat, v)
			case []string:
				flat = append(flat, v...)
			}
		}
		q := make([]string, len(flat))
		for i, s := range flat {
			q[i] = Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	},
	"inbox":       func(user string) string { return InboxPrefix(user) + ".>" },
	"mirrorReads": mirrorReads,
	"snapReads":   snapReads,
	"storeReads":  storeReads,
	"replace":     func(s, from, to string) string { return strings.Replace(s, from, to, 1) },
	// reads is what a reader may publish: the mirror's and the snapshots'
	// read-only API subjects as imported, and extra.
	"reads": func(bucket string, extra ...string) []string {
		return append(append(mirrorReads(MirrorAPIPrefix), snapReads(bucket, CommandAPIPrefix)...), extra...)
	},
	"Quote": Quote,
}).Parse(`{{if .Header}}{{.Header}}
{{end}}{{if .ServerName}}server_name: {{.ServerName}}
{{end}}{{if .StoreDir}}
jetstream {
  store_dir: {{.StoreDir}}
{{if .SyncAlways}}  sync_interval: always
{{end}}{{if .Domain}}  domain: {{.Domain}}
{{end}}}
{{end}}
accounts {
  # The event stream {{.Stream}}, and no users but the embedded server's own:
  # nobody can make a JetStream responder act where it is. The command side
  # publishes events and reads the stream through what this account exports.
  STORE: {
    jetstream: enabled
    users: [
{{- if .InternalStore}}
      { user: grantlog-internal-store, password: {{.InternalStore}} }
{{- end}}
    ]
    exports: [
      { service: {{Quote (printf "%s.>" .Prefix)}}, accounts: [GRANTLOG] }
{{- range storeReads "$JS.API"}}
      { service: {{Quote .}}, accounts: [GRANTLOG], response_type: stream }
{{- end}}
      { service: {{Quote (printf "$JS.API.STREAM.CREATE.%s" .Stream)}}, accounts: [GRANTLOG] }
      # The readers' mirror (account MIRROR): its consumer on {{.Stream}}
      # (exact subject), its deliveries and flow control.
      { service: {{Quote (printf "$JS.API.CONSUMER.CREATE.%s" .Stream)}}, accounts: [MIRROR{{if .Region}}, REGION_EVENTS{{end}}] }
      { stream: "grantlog.mirror.>", accounts: [MIRROR{{if .Region}}, REGION_EVENTS{{end}}] }
      { service: "$JS.FC.>", accounts: [MIRROR{{if .Region}}, REGION_EVENTS{{end}}] }
      # Backups (grantlog backup, command credential): the chunks of the
      # event stream's snapshot, which the embedded server's own user asks
      # for on GRANTLOG's grantlog.admin.backup (so no user chooses where in
      # this account they go), and their acks.
      { stream: "grantlog.backup.>", accounts: [GRANTLOG] }
      { service: {{Quote (printf "$JS.SNAPSHOT.ACK.%s.>" .Stream)}}, accounts: [GRANTLOG] }
    ]
  }

  # The command side: the snapshot bucket {{.Bucket}} and the log signing
  # key. No other users here.
  GRANTLOG: {
    jetstream: enabled
    users: [
{{- if .Internal}}
      { user: grantlog-internal, password: {{.Internal}} }
{{- end}}
      # Command nodes (role all or command): append events (into STORE, which
      # exports nothing that changes, purges or deletes the stream), write
      # snapshots, answer grantlog.v1.cmd.* (and replies).
      { user: command, password: {{.Command}},
{{template "commandPermissions"}}
    ]
    exports: [
      # Snapshots, read without creating anything.
{{- range snapReads .Bucket "$JS.API"}}
      { service: {{Quote .}}, accounts: [READERS], response_type: stream }
{{- end}}
      # The NATS command API.
      { service: "grantlog.v1.cmd.>", accounts: [CLIENTS] }
{{- if .Region}}
      # Other regions' mirrors of the snapshot bucket (REGION_SNAPSHOTS):
      # their consumer (exact subject), its deliveries and flow control.
      { service: {{Quote (printf "$JS.API.CONSUMER.CREATE.OBJ_%s" .Bucket)}}, accounts: [REGION_SNAPSHOTS] }
      { stream: "grantlog.snapmirror.>", accounts: [REGION_SNAPSHOTS] }
      { service: "$JS.FC.>", accounts: [REGION_SNAPSHOTS] }
{{- end}}
    ]
    imports: [
      # Events: published into, and read from, the store account.
      { service: { account: STORE, subject: {{Quote (printf "%s.>" .Prefix)}} } }
{{- range storeReads "$JS.API"}}
      { service: { account: STORE, subject: {{Quote .}} }, to: {{Quote (replace . "$JS.API" "$JS.STORE.API")}} }
{{- end}}
      { service: { account: STORE, subject: {{Quote (printf "$JS.API.STREAM.CREATE.%s" .Stream)}} }, to: {{Quote (printf "$JS.STORE.API.STREAM.CREATE.%s" .Stream)}} }
      # Backups: the event stream's snapshot chunks and acks (see STORE's exports).
      { stream: { account: STORE, subject: "grantlog.backup.>" } }
      { service: { account: STORE, subject: {{Quote (printf "$JS.SNAPSHOT.ACK.%s.>" .Stream)}} } }
      # Command nodes create the readers' mirror when it is missing.
      { service: { account: MIRROR, subject: "$JS.API.STREAM.CREATE.GRANTLOG_MIRROR" }, to: "$JS.MIRROR.API.STREAM.CREATE.GRANTLOG_MIRROR" }
      { service: { account: MIRROR, subject: "$JS.API.STREAM.INFO.GRANTLOG_MIRROR" }, to: "$JS.MIRROR.API.STREAM.INFO.GRANTLOG_MIRROR" }
    ]
  }

  # The readers' mirror GRANTLOG_MIRROR of the event stream: no subjects,
  # and no users but the embedded server's own, so that no reader can make
  # a JetStream responder act in the account that holds it. Readers reach
  # it through read-only API subjects it exports.
  MIRROR: {
    jetstream: enabled
    users: [
{{- if .InternalMirror}}
      { user: grantlog-internal-mirror, password: {{.InternalMirror}} }
{{- end}}
    ]
    imports: [
      { service: { account: STORE, subject: {{Quote (printf "$JS.API.CONSUMER.CREATE.%s" .Stream)}} }, to: {{Quote (printf "$JS.STORE.API.CONSUMER.CREATE.%s" .Stream)}} }
      { stream: { account: STORE, subject: "grantlog.mirror.>" } }
      { service: { account: STORE, subject: "$JS.FC.>" } }
    ]
    exports: [
      { service: "$JS.API.STREAM.CREATE.GRANTLOG_MIRROR", accounts: [GRANTLOG] }
{{- range mirrorReads "$JS.API"}}
      { service: {{Quote .}}, accounts: [READERS, GRANTLOG], response_type: stream }
{{- end}}
    ]
  }

  # Readers: replica nodes and embedded followers. No JetStream here: they
  # read the mirror and the snapshots through imported, read-only subjects.
  READERS: {
    users: [
{{- if .InternalReader}}
      { user: grantlog-internal-reader, password: {{.InternalReader}} }
{{- end}}
{{template "readerUsers" .}}
    ]
    imports: [
{{- range mirrorReads "$JS.API"}}
      { service: { account: MIRROR, subject: {{Quote .}} }, to: {{Quote (replace . "$JS.API" "$JS.MIRROR.API")}} }
{{- end}}
{{- range snapReads .Bucket "$JS.API"}}
      { service: { account: GRANTLOG, subject: {{Quote .}} }, to: {{Quote (replace . "$JS.API" "$JS.GRANTLOG.API")}} }
{{- end}}
    ]
    exports: [
      { service: "grantlog.v1.check", accounts: [CLIENTS] }
      { service: "grantlog.v1.checks", accounts: [CLIENTS] }
      { service: "grantlog.v1.read.>", accounts: [CLIENTS] }
    ]
  }
{{if .Region}}
  # Links to the other regions (leaf nodes; RegionConfig renders their side).
  # One leaf-node-only user each, no JetStream, nothing exported: a region
  # mirrors the event stream through REGION_EVENTS and the snapshot bucket
  # through REGION_SNAPSHOTS, and can do nothing else with them.
  REGION_EVENTS: {
    users: [
      { user: region-events, password: {{.Region}}, allowed_connection_types: ["LEAFNODE"] }
    ]
    imports: [
      { service: { account: STORE, subject: {{Quote (printf "$JS.API.CONSUMER.CREATE.%s" .Stream)}} }, to: {{Quote (printf "$JS.STORE.API.CONSUMER.CREATE.%s" .Stream)}} }
      { stream: { account: STORE, subject: "grantlog.mirror.>" } }
      { service: { account: STORE, subject: "$JS.FC.>" } }
    ]
  }
  REGION_SNAPSHOTS: {
    users: [
      { user: region-snapshots, password: {{.Region}}, allowed_connection_types: ["LEAFNODE"] }
    ]
    imports: [
      { service: { account: GRANTLOG, subject: {{Quote (printf "$JS.API.CONSUMER.CREATE.OBJ_%s" .Bucket)}} }, to: {{Quote (printf "$JS.GRANTLOG.API.CONSUMER.CREATE.OBJ_%s" .Bucket)}} }
      { stream: { account: GRANTLOG, subject: "grantlog.snapmirror.>" } }
      { service: { account: GRANTLOG, subject: "$JS.FC.>" } }
    ]
  }
{{end}}
{{template "clients" .}}
}
{{define "readerUsers"}}      # Replica nodes: read the mirror and snapshots, answer
      # grantlog.v1.check(s) and the reads (grantlog.v1.read.>), and
      # publish their status.
      { user: replica, password: {{.Replica}},
        permissions: {
          publish: { allow: {{list (reads .Bucket "grantlog.status.>" "$SRV.>")}} }
          subscribe: { allow: {{list (inbox "replica") "grantlog.v1.check" "grantlog.v1.checks" "grantlog.v1.read.>" "$SRV.>" "grantlog.status.>"}} }
          allow_responses: true
        } }
      # Embedded followers (game servers): read the mirror and snapshots.
      { user: follower, password: {{.Follower}},
        permissions: {
          publish: { allow: {{list (reads .Bucket)}} }
          subscribe: { allow: {{list (inbox "follower")}} }
        } }{{end}}
{{- define "commandPermissions"}}        permissions: {
          publish: { deny: {{list "$JS.API.STREAM.UPDATE.KV_GRANTLOG_KEYS" "$JS.API.STREAM.DELETE.KV_GRANTLOG_KEYS" "$JS.API.STREAM.PURGE.KV_GRANTLOG_KEYS" "$JS.API.STREAM.RESTORE.>" "$JS.API.STREAM.SNAPSHOT.>" "$JS.API.STREAM.PEER.REMOVE.>" "$JS.API.ACCOUNT.PURGE.>" "$JS.API.SERVER.>"}} }
          subscribe: { deny: {{list "_INBOX.>"}} }
        } }{{end}}
{{- define "clients"}}  # API clients: requests to the Grantlog API, replies on their own inbox.
  CLIENTS: {
    users: [
      { user: client, password: {{.Client}},
        permissions: {
          publish: { allow: {{list "grantlog.v1.check" "grantlog.v1.checks" "grantlog.v1.read.>" "grantlog.v1.cmd.>"}} }
          subscribe: { allow: {{list (inbox "client")}} }
        } }
    ]
    imports: [
      { service: { account: READERS, subject: "grantlog.v1.check" } }
      { service: { account: READERS, subject: "grantlog.v1.checks" } }
      { service: { account: READERS, subject: "grantlog.v1.read.>" } }
      { service: { account: GRANTLOG, subject: "grantlog.v1.cmd.>" } }
    ]
  }{{end}}`))

// RegionParams fills RegionConfig.
type RegionParams struct {
	// Header is a comment (and any settings) placed at the top.
	Header string
	// ServerName, StoreDir, SyncAlways and Domain go into the jetstream
	// block, as in AccountsParams. Domain must differ from the home
	// region's: each region is a JetStream domain of its own.
	ServerName, StoreDir, Domain string
	SyncAlways                   bool
	// Command, Replica, Follower and Client are the passwords of the four
	// users, as in AccountsParams (the command nodes of every region share
	// the command user: their leaf link to the home region logs in as it).
	Command, Replica, Follower, Client string
	// EventsURL, SnapshotsURL and CommandURL are the leaf node URLs (with
	// user and password) of the home region's RegionEventsAccount,
	// RegionSnapshotsAccount and CommandAccount.
	EventsURL, SnapshotsURL, CommandURL string
	// Stream, Prefix and Bucket are the event stream's name, its subject
	// prefix and the snapshot bucket.
	Stream, Prefix, Bucket string
}

// RegionConfig renders the NATS configuration of a region other than the
// home region: its own JetStream domain holding the regional mirror of the
// event stream (MirrorAccount, ReaderStream, fed through a leaf node to
// the home region's RegionEventsAccount) and of the snapshot bucket
// (SnapshotsAccount, fed through RegionSnapshotsAccount); its readers
// (replicas, followers) see them exactly where the home region's readers
// see the home mirror and the bucket, so a replica runs unchanged in any
// region. The region's CommandAccount has no JetStream and is linked to
// the home region's: its command nodes append to the home stream (and
// reach the home JetStream through the home domain's API prefix) and
// create the regional mirrors through what MirrorAccount and
// SnapshotsAccount export to them.
func RegionConfig(p RegionParams) (string, error) {
	if p.Stream == "" || p.Prefix == "" || p.Bucket == "" || p.Domain == "" {
		return "", fmt.Errorf("eventlog: RegionConfig needs Stream, Prefix, Bucket and Domain")
	}
	var b bytes.Buffer
	if err := regionTemplate.Execute(&b, p); err != nil {
		return "", fmt.Errorf("eventlog: render region: %w", err)
	}
	return b.String(), nil
}

var regionTemplate = template.Must(template.Must(accountsTemplate.Clone()).New("region").Parse(`{{if .Header}}{{.Header}}
{{end}}{{if .ServerName}}server_name: {{.ServerName}}
{{end}}
jetstream {
{{- if .StoreDir}}
  store_dir: {{.StoreDir}}
{{- end}}
{{- if .SyncAlways}}
  sync_interval: always
{{- end}}
  domain: {{.Domain}}
}

# The links to the home region: one leaf node per linked account.
leafnodes {
  remotes: [
    # The event stream's deliveries to this region's mirror.
    { urls: [{{.EventsURL}}], account: MIRROR }
    # The snapshot bucket's deliveries to this region's copy.
    { urls: [{{.SnapshotsURL}}], account: SNAPSHOTS }
    # Command nodes of this region: events go to the home stream. The
    # regional mirrors' creation stays in this region.
    { urls: [{{.CommandURL}}], account: GRANTLOG,
      deny_imports: {{list "$JS.MIRROR.>" "$JS.SNAPSHOTS.>"}},
      deny_exports: {{list "$JS.MIRROR.>" "$JS.SNAPSHOTS.>"}} }
  ]
}

accounts {
  # Command nodes of this region. No JetStream here: through the leaf link
  # this account is the home region's command account (events, the
  # signing key, snapshots in the home domain). It creates this region's
  # mirrors through what MIRROR and SNAPSHOTS export to it.
  GRANTLOG: {
    users: [
      { user: command, password: {{.Command}},
{{template "commandPermissions"}}
    ]
    exports: [
      { service: "grantlog.v1.cmd.>", accounts: [CLIENTS] }
    ]
    imports: [
      { service: { account: MIRROR, subject: "$JS.API.STREAM.CREATE.GRANTLOG_MIRROR" }, to: "$JS.MIRROR.API.STREAM.CREATE.GRANTLOG_MIRROR" }
      { service: { account: MIRROR, subject: "$JS.API.STREAM.INFO.GRANTLOG_MIRROR" }, to: "$JS.MIRROR.API.STREAM.INFO.GRANTLOG_MIRROR" }
      { service: { account: SNAPSHOTS, subject: {{Quote (printf "$JS.API.STREAM.CREATE.OBJ_%s" .Bucket)}} }, to: {{Quote (printf "$JS.SNAPSHOTS.API.STREAM.CREATE.OBJ_%s" .Bucket)}} }
      { service: { account: SNAPSHOTS, subject: {{Quote (printf "$JS.API.STREAM.INFO.OBJ_%s" .Bucket)}} }, to: {{Quote (printf "$JS.SNAPSHOTS.API.STREAM.INFO.OBJ_%s" .Bucket)}} }
    ]
  }

  # This region's mirror GRANTLOG_MIRROR of the home event stream, fed
  # through the leaf link to the home region's REGION_EVENTS. No users:
  # readers reach it through the read-only API subjects it exports.
  MIRROR: {
    jetstream: enabled
    users: [
    ]
    exports: [
      { service: "$JS.API.STREAM.CREATE.GRANTLOG_MIRROR", accounts: [GRANTLOG] }
{{- range mirrorReads "$JS.API"}}
      { service: {{Quote .}}, accounts: [READERS, GRANTLOG], response_type: stream }
{{- end}}
    ]
  }

  # This region's copy of the snapshot bucket (a mirror of its stream),
  # fed through the leaf link to the home region's REGION_SNAPSHOTS. No
  # users.
  SNAPSHOTS: {
    jetstream: enabled
    users: [
    ]
    exports: [
      { service: {{Quote (printf "$JS.API.STREAM.CREATE.OBJ_%s" .Bucket)}}, accounts: [GRANTLOG] }
      { service: {{Quote (printf "$JS.API.STREAM.INFO.OBJ_%s" .Bucket)}}, accounts: [READERS, GRANTLOG], response_type: stream }
      { service: {{Quote (printf "$JS.API.DIRECT.GET.OBJ_%s" .Bucket)}}, accounts: [READERS], response_type: stream }
      { service: {{Quote (printf "$JS.API.DIRECT.GET.OBJ_%s.>" .Bucket)}}, accounts: [READERS], response_type: stream }
    ]
  }

  # Readers of this region, as in the home region: they see this region's
  # mirror and snapshot copy where readers there see the home ones.
  READERS: {
    users: [
{{template "readerUsers" .}}
    ]
    imports: [
{{- range mirrorReads "$JS.API"}}
      { service: { account: MIRROR, subject: {{Quote .}} }, to: {{Quote (replace . "$JS.API" "$JS.MIRROR.API")}} }
{{- end}}
{{- range snapReads .Bucket "$JS.API"}}
      { service: { account: SNAPSHOTS, subject: {{Quote .}} }, to: {{Quote (replace . "$JS.API" "$JS.GRANTLOG.API")}} }
{{- end}}
    ]
    exports: [
      { service: "grantlog.v1.check", accounts: [CLIENTS] }
      { service: "grantlog.v1.checks", accounts: [CLIENTS] }
      { service: "grantlog.v1.read.>", accounts: [CLIENTS] }
    ]
  }

{{template "clients" .}}
}
`))

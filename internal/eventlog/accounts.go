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
	// CommandAccount holds the event stream, the snapshot bucket and the
	// log signing key. Only the command side (command and role all nodes)
	// has users here, so only the command side can get a message stored in
	// the event stream, by any route NATS offers.
	CommandAccount = "GRANTLOG"
	// ReadersAccount holds ReaderStream, a mirror of the event stream, for
	// replicas and embedded followers. A mirror has no subjects: nothing
	// published, delivered or replied in this account is ever stored in it.
	ReadersAccount = "READERS"
	// ClientsAccount holds the API clients: they may only send requests to
	// the Grantlog API (imported from the two accounts above) and read the
	// replies sent to their own inbox prefix.
	ClientsAccount = "CLIENTS"
)

// ReaderStream is the readers' mirror of the event stream in
// ReadersAccount. It keeps the origin's sequence numbers, so a revision
// means the same thing everywhere. It must not be named like the event
// stream: see the note on the consumer-create export in AccountsConfig.
const ReaderStream = "GRANTLOG_MIRROR"

// CommandAPIPrefix is where ReadersAccount sees the JetStream API subjects
// that CommandAccount exports to it (see AccountsConfig).
const CommandAPIPrefix = "$JS.GRANTLOG.API"

// MirrorDeliverPrefix is the deliver subject prefix of the mirror's
// consumer in CommandAccount, exported to ReadersAccount as a stream.
const MirrorDeliverPrefix = "grantlog.mirror"

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

// internal users of the embedded server, one per account with JetStream,
// with full permissions in their account. Their passwords are random per
// start and never leave the process.
const (
	internalUser       = "grantlog-internal"
	internalReaderUser = "grantlog-internal-reader"
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
	// Internal and InternalReader, when set, add the embedded server's
	// internal users with these passwords.
	Internal, InternalReader string
	// Stream, Prefix and Bucket are the event stream's name, its subject
	// prefix and the snapshot bucket.
	Stream, Prefix, Bucket string
}

// Quote renders s as a quoted NATS configuration string.
func Quote(s string) string { return strconv.Quote(s) }

// AccountsConfig renders the accounts, users, permissions, exports and
// imports of a Grantlog NATS server.
//
// Why no path exists for anyone but the command side to get a message
// stored in the event stream: the stream lives in CommandAccount, whose
// only users are the command side. Everything a non-command user can make
// the server publish (its own publishes, replies of the JetStream API or
// of any service to a reply subject it chooses, deliveries of consumers it
// creates, direct-get replies) is published in the user's own account,
// where no stream captures event subjects (the readers' mirror has no
// subjects). Replies that cross a service import go back to the
// requester's account. What CommandAccount exports to ReadersAccount is:
//
//   - $JS.API.CONSUMER.CREATE.<Stream> (exactly; the mirror's consumer):
//     a push consumer on the event stream cannot deliver into the event
//     subjects (the server refuses a delivery cycle), and no reader may
//     publish to it (permissions). A JetStream answer in ReadersAccount
//     echoing a consumer's config is not a valid create request for
//     <Stream> because nothing in ReadersAccount is named <Stream>
//     (ReaderStream differs, and readers may not create other streams).
//   - the mirror's deliver subjects and flow control replies;
//   - STREAM.INFO and DIRECT.GET (both forms: with the request in the body,
//     which reads an object's chunks by sequence, and with a subject
//     appended, which reads an object's metadata) of the snapshot bucket's
//     stream: reads that create nothing (package snapshot reads through
//     them only).
//
// and to ClientsAccount the command API (grantlog.v1.cmd.>);
// ReadersAccount exports the check API (grantlog.v1.check, .checks).
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

var accountsTemplate = template.Must(template.New("accounts").Funcs(template.FuncMap{
	"list": func(subjects ...string) string {
		q := make([]string, len(subjects))
		for i, s := range subjects {
			q[i] = Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	},
	"inbox": func(user string) string { return InboxPrefix(user) + ".>" },
	"Quote": Quote,
}).Parse(`{{if .Header}}{{.Header}}
{{end}}{{if .ServerName}}server_name: {{.ServerName}}
{{end}}{{if .StoreDir}}
jetstream {
  store_dir: {{.StoreDir}}
{{if .SyncAlways}}  sync_interval: always
{{end}}}
{{end}}
accounts {
  # The command side: the event stream {{.Stream}}, the snapshot bucket
  # {{.Bucket}} and the log signing key. No other users here.
  GRANTLOG: {
    jetstream: enabled
    users: [
{{- if .Internal}}
      { user: grantlog-internal, password: {{.Internal}} }
{{- end}}
      # Command nodes (role all or command): append events, write snapshots,
      # answer grantlog.v1.cmd.* (and replies); never change, delete or purge
      # the event stream.
      { user: command, password: {{.Command}},
        permissions: {
          publish: { deny: {{list (printf "$JS.API.STREAM.UPDATE.%s" .Stream) (printf "$JS.API.STREAM.DELETE.%s" .Stream) (printf "$JS.API.STREAM.PURGE.%s" .Stream) (printf "$JS.API.STREAM.MSG.DELETE.%s" .Stream) "$JS.API.STREAM.UPDATE.KV_GRANTLOG_KEYS" "$JS.API.STREAM.DELETE.KV_GRANTLOG_KEYS" "$JS.API.STREAM.PURGE.KV_GRANTLOG_KEYS" "$JS.API.STREAM.RESTORE.>" "$JS.API.STREAM.PEER.REMOVE.>" "$JS.API.ACCOUNT.PURGE.>" "$JS.API.SERVER.>"}} }
          subscribe: { deny: {{list "_INBOX.>"}} }
        } }
    ]
    exports: [
      # The readers' mirror: its consumer on {{.Stream}} (exact subject), its
      # deliveries and flow control.
      { service: {{Quote (printf "$JS.API.CONSUMER.CREATE.%s" .Stream)}}, accounts: [READERS] }
      { stream: "grantlog.mirror.>", accounts: [READERS] }
      { service: "$JS.FC.>", accounts: [READERS] }
      # Snapshots, read without creating anything.
      { service: {{Quote (printf "$JS.API.STREAM.INFO.OBJ_%s" .Bucket)}}, accounts: [READERS] }
      { service: {{Quote (printf "$JS.API.DIRECT.GET.OBJ_%s" .Bucket)}}, accounts: [READERS] }
      { service: {{Quote (printf "$JS.API.DIRECT.GET.OBJ_%s.>" .Bucket)}}, accounts: [READERS] }
      # The NATS command API.
      { service: "grantlog.v1.cmd.>", accounts: [CLIENTS] }
    ]
  }

  # Readers: the mirror GRANTLOG_MIRROR of the event stream (no subjects),
  # replica nodes and embedded followers.
  READERS: {
    jetstream: enabled
    users: [
{{- if .InternalReader}}
      { user: grantlog-internal-reader, password: {{.InternalReader}} }
{{- end}}
      # Replica nodes: read the mirror (create it when missing), read
      # snapshots, answer grantlog.v1.check(s) and publish their status.
      { user: replica, password: {{.Replica}},
        permissions: {
          publish: { allow: {{list "$JS.API.INFO" "$JS.API.STREAM.CREATE.GRANTLOG_MIRROR" "$JS.API.STREAM.INFO.GRANTLOG_MIRROR" "$JS.API.CONSUMER.CREATE.GRANTLOG_MIRROR" "$JS.API.CONSUMER.CREATE.GRANTLOG_MIRROR.>" "$JS.API.CONSUMER.DELETE.GRANTLOG_MIRROR.>" "$JS.API.CONSUMER.INFO.GRANTLOG_MIRROR.>" "$JS.API.CONSUMER.MSG.NEXT.GRANTLOG_MIRROR.>" "$JS.API.DIRECT.GET.GRANTLOG_MIRROR" "$JS.API.DIRECT.GET.GRANTLOG_MIRROR.>" "$JS.API.STREAM.MSG.GET.GRANTLOG_MIRROR" (printf "$JS.GRANTLOG.API.STREAM.INFO.OBJ_%s" .Bucket) (printf "$JS.GRANTLOG.API.DIRECT.GET.OBJ_%s" .Bucket) (printf "$JS.GRANTLOG.API.DIRECT.GET.OBJ_%s.>" .Bucket) "grantlog.status.>" "$SRV.>"}} }
          subscribe: { allow: {{list (inbox "replica") "grantlog.v1.check" "grantlog.v1.checks" "$SRV.>" "grantlog.status.>"}} }
          allow_responses: true
        } }
      # Embedded followers (game servers): read the mirror and snapshots.
      { user: follower, password: {{.Follower}},
        permissions: {
          publish: { allow: {{list "$JS.API.INFO" "$JS.API.STREAM.INFO.GRANTLOG_MIRROR" "$JS.API.CONSUMER.CREATE.GRANTLOG_MIRROR" "$JS.API.CONSUMER.CREATE.GRANTLOG_MIRROR.>" "$JS.API.CONSUMER.DELETE.GRANTLOG_MIRROR.>" "$JS.API.CONSUMER.INFO.GRANTLOG_MIRROR.>" "$JS.API.CONSUMER.MSG.NEXT.GRANTLOG_MIRROR.>" "$JS.API.DIRECT.GET.GRANTLOG_MIRROR" "$JS.API.DIRECT.GET.GRANTLOG_MIRROR.>" "$JS.API.STREAM.MSG.GET.GRANTLOG_MIRROR" (printf "$JS.GRANTLOG.API.STREAM.INFO.OBJ_%s" .Bucket) (printf "$JS.GRANTLOG.API.DIRECT.GET.OBJ_%s" .Bucket) (printf "$JS.GRANTLOG.API.DIRECT.GET.OBJ_%s.>" .Bucket)}} }
          subscribe: { allow: {{list (inbox "follower")}} }
        } }
    ]
    imports: [
      { service: { account: GRANTLOG, subject: {{Quote (printf "$JS.API.CONSUMER.CREATE.%s" .Stream)}} }, to: {{Quote (printf "$JS.GRANTLOG.API.CONSUMER.CREATE.%s" .Stream)}} }
      { stream: { account: GRANTLOG, subject: "grantlog.mirror.>" } }
      { service: { account: GRANTLOG, subject: "$JS.FC.>" } }
      { service: { account: GRANTLOG, subject: {{Quote (printf "$JS.API.STREAM.INFO.OBJ_%s" .Bucket)}} }, to: {{Quote (printf "$JS.GRANTLOG.API.STREAM.INFO.OBJ_%s" .Bucket)}} }
      { service: { account: GRANTLOG, subject: {{Quote (printf "$JS.API.DIRECT.GET.OBJ_%s" .Bucket)}} }, to: {{Quote (printf "$JS.GRANTLOG.API.DIRECT.GET.OBJ_%s" .Bucket)}} }
      { service: { account: GRANTLOG, subject: {{Quote (printf "$JS.API.DIRECT.GET.OBJ_%s.>" .Bucket)}} }, to: {{Quote (printf "$JS.GRANTLOG.API.DIRECT.GET.OBJ_%s.>" .Bucket)}} }
    ]
    exports: [
      { service: "grantlog.v1.check", accounts: [CLIENTS] }
      { service: "grantlog.v1.checks", accounts: [CLIENTS] }
    ]
  }

  # API clients: requests to the Grantlog API, replies on their own inbox.
  CLIENTS: {
    users: [
      { user: client, password: {{.Client}},
        permissions: {
          publish: { allow: {{list "grantlog.v1.check" "grantlog.v1.checks" "grantlog.v1.cmd.>"}} }
          subscribe: { allow: {{list (inbox "client")}} }
        } }
    ]
    imports: [
      { service: { account: READERS, subject: "grantlog.v1.check" } }
      { service: { account: READERS, subject: "grantlog.v1.checks" } }
      { service: { account: GRANTLOG, subject: "grantlog.v1.cmd.>" } }
    ]
  }
}
`))

package eventlog

import (
	"encoding/json"
	"regexp"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/grantlog/grantlog/internal/storage/logsig"
)

// BackupSubject is where, in CommandAccount, the embedded server's own
// user takes requests for a snapshot of one of the streams a backup holds
// (grantlog backup). Only CommandAccount's users (the command credential)
// can send them: the subject is exported nowhere.
//
// Why not let the command credential call JetStream's snapshot API: its
// request names the subject the chunks are published to, in the stream's
// account, by the server (no permission applies), and its last message is
// empty. A requester could aim it at $JS.API.STREAM.DELETE.<stream> (an
// empty request deletes) or at the event subjects, and so delete the
// stream or store messages in it (checked: backup_test.go
// TestBackupCannotAimChunks). So the command user is denied
// $JS.API.STREAM.SNAPSHOT.> and StoreAccount exports no snapshot API; the
// embedded server's users ask for the snapshot, always delivered to
// BackupDeliverPrefix.<id> with an id they check. StoreAccount exports
// that prefix to CommandAccount as a stream (and the chunks' acks).
const BackupSubject = "grantlog.admin.backup"

// backupID is what a request's id may be: one subject token.
var backupID = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// backupRequest is a BackupSubject request.
type backupRequest struct {
	// Stream is the stream to snapshot: DefaultStream, the signing key's
	// bucket's or the snapshot bucket's.
	Stream string `json:"stream"`
	// ID names the delivery subject: BackupDeliverPrefix.<id>, which the
	// requester subscribes to first.
	ID string `json:"id"`
}

// serveBackups answers BackupSubject on conn (CommandAccount) by asking
// JetStream for a snapshot of the stream (through store for the event
// stream, in StoreAccount) delivered to BackupDeliverPrefix.<id>, and
// forwarding JetStream's answer.
func serveBackups(conn, store *nats.Conn, bucket string) (*nats.Subscription, error) {
	through := map[string]*nats.Conn{DefaultStream: store, "KV_" + logsig.DefaultBucket: conn, "OBJ_" + bucket: conn}
	return conn.Subscribe(BackupSubject, func(msg *nats.Msg) {
		var req backupRequest
		err := json.Unmarshal(msg.Data, &req)
		nc := through[req.Stream]
		if err != nil || nc == nil || !backupID.MatchString(req.ID) {
			_ = msg.Respond(backupError(400, `the request must be {"stream": "`+DefaultStream+`", "KV_`+logsig.DefaultBucket+`" or "OBJ_`+bucket+`", "id": "<8-64 letters, digits, - or _>"}`))
			return
		}
		snap, _ := json.Marshal(map[string]any{"deliver_subject": BackupDeliverPrefix + "." + req.ID, "no_consumers": true, "chunk_size": backupChunk})
		resp, err := nc.Request("$JS.API.STREAM.SNAPSHOT."+req.Stream, snap, 30*time.Second)
		if err != nil {
			_ = msg.Respond(backupError(503, "the snapshot request failed: "+err.Error()))
			return
		}
		_ = msg.Respond(resp.Data)
	})
}

// backupError is a JetStream-shaped error answer.
func backupError(code int, desc string) []byte {
	raw, _ := json.Marshal(map[string]any{"error": apiError{Code: code, Description: desc}})
	return raw
}

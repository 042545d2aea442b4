package eventlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/grantlog/grantlog/internal/storage/logsig"
)

// Backups (grantlog backup / grantlog restore). A backup is a directory:
//
//   - events.snapshot: the event stream DefaultStream, as JetStream's stream
//     snapshot API ($JS.API.STREAM.SNAPSHOT.<stream>) streams it (a tar,
//     s2-compressed), asked for by the command credential on BackupSubject
//     and taken by the embedded server's own user, which alone chooses where
//     the chunks go (BackupDeliverPrefix.<id>; backup_service.go says why);
//   - index-snapshots.snapshot: the snapshot bucket's stream (the signed
//     index checkpoints, newest at BackupManifest.CheckpointRevision), when
//     the deployment has one;
//   - signing-key.sealed: the stream of the log signing key's bucket, sealed
//     with a key derived from the operator's passphrase (backup_seal.go): a
//     restored deployment must sign with the key its log announced;
//   - manifest.json: BackupManifest (revisions, message count, each file's
//     size and SHA-256), authenticated with an HMAC under the passphrase.
//
// Restore verifies all of it before it writes anything, then restores each
// stream through JetStream's restore API ($JS.API.STREAM.RESTORE.<stream>)
// into a new data directory's embedded server: the stream's own files, so
// every revision, timestamp and header (signatures, hash chain) is kept.

// BackupDeliverPrefix is the subject prefix under which StoreAccount
// delivers the event stream's snapshot chunks to CommandAccount.
const BackupDeliverPrefix = "grantlog.backup"

// Backup file names.
const (
	BackupManifestFile  = "manifest.json"
	backupEventsFile    = "events.snapshot"
	backupSnapshotsFile = "index-snapshots.snapshot"
	backupKeyFile       = "signing-key.sealed"
)

// BackupFormat is the version of the backup layout this binary writes and
// reads.
const BackupFormat = 1

// backupChunk is the snapshot chunk size asked for and the restore chunk
// size sent.
const backupChunk = 128 << 10

// maxSealedStream bounds the signing key bucket's snapshot, held in memory
// to be sealed.
const maxSealedStream = 4 << 20

// BackupFile is one file of a backup: a stream's snapshot.
type BackupFile struct {
	Name    string `json:"name"`
	Account string `json:"account"`
	Stream  string `json:"stream"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	// Sealed says the file is encrypted under the passphrase.
	Sealed bool `json:"sealed,omitempty"`
	// Messages, FirstSeq, LastSeq and Bytes are the stream's state when the
	// snapshot was taken; restore checks the restored stream against them.
	Messages uint64 `json:"messages"`
	FirstSeq uint64 `json:"firstSeq"`
	LastSeq  uint64 `json:"lastSeq"`
	Bytes    uint64 `json:"bytes"`
	// Config is the stream's configuration as the server reported it with
	// the snapshot: restore recreates the stream with it.
	Config json.RawMessage `json:"config,omitempty"`
}

// BackupManifest describes a backup.
type BackupManifest struct {
	Format          int       `json:"format"`
	GrantlogVersion string    `json:"grantlogVersion"`
	CreatedAt       time.Time `json:"createdAt"`
	// Stream is the event stream; FirstRevision, LastRevision and Messages
	// its state in the backup.
	Stream        string `json:"stream"`
	FirstRevision uint64 `json:"firstRevision"`
	LastRevision  uint64 `json:"lastRevision"`
	Messages      uint64 `json:"messages"`
	// CheckpointRevision is the revision of the newest index checkpoint in
	// the backup (0: none; a restored node then replays the whole stream).
	CheckpointRevision uint64       `json:"checkpointRevision"`
	Files              []BackupFile `json:"files"`
}

// file returns the manifest's entry of name.
func (m *BackupManifest) file(name string) (BackupFile, bool) {
	for i := range m.Files {
		if m.Files[i].Name == name {
			return m.Files[i], true
		}
	}
	return BackupFile{}, false
}

// BackupConfig configures Backup.
type BackupConfig struct {
	// Conn is a connection with the command credential
	// (<data-dir>/nats-command.creds): the only one that may read the
	// stream's snapshot, the snapshot bucket and the signing key.
	Conn *nats.Conn
	// Dir is the backup directory: absent or empty.
	Dir string
	// Passphrase seals the signing key and authenticates the manifest; at
	// least MinPassphrase bytes.
	Passphrase []byte
	// Version is the Grantlog version recorded in the manifest.
	Version string
	// Bucket is the snapshot bucket (DefaultSnapshotBucket when "").
	Bucket string
	// Progress, when set, receives progress lines.
	Progress io.Writer
	// Timeout bounds each wait for the server (default 30s).
	Timeout time.Duration
}

// ErrBackupCredential is returned when the connection's credential cannot
// read the event stream's snapshot.
var ErrBackupCredential = errors.New("backup: this NATS credential cannot read the event stream")

// Backup writes a backup of the deployment Conn is connected to into Dir
// (see the top of this file) and returns its manifest. On failure it removes
// what it wrote.
func Backup(ctx context.Context, cfg BackupConfig) (m BackupManifest, err error) {
	if cfg.Conn == nil || cfg.Dir == "" {
		return m, errors.New("backup: a connection and a directory are required")
	}
	if err := checkPassphrase(cfg.Passphrase); err != nil {
		return m, err
	}
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultSnapshotBucket
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	created, err := newOutputDir(cfg.Dir, "backup", "back up into a new directory")
	if err != nil {
		return m, err
	}
	defer func() {
		if err != nil {
			removeWritten(cfg.Dir, created)
		}
	}()
	seal, err := newSealing(cfg.Passphrase)
	if err != nil {
		return m, err
	}
	b := &backupRun{cfg: cfg, prog: newProgress(cfg.Progress), seal: seal}

	// The event stream's state first: a credential that cannot read it is
	// refused before anything is written.
	sctx, cancel := context.WithTimeout(ctx, min(cfg.Timeout, 10*time.Second))
	defer cancel()
	storeJS, err := jetstream.NewWithAPIPrefix(cfg.Conn, StoreAPIPrefix)
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	if _, err := storeJS.Stream(sctx, DefaultStream); err != nil {
		return m, fmt.Errorf("%w (%w): back up with the command credential, <data-dir>/%s (docs/SECURITY.md)", ErrBackupCredential, err, CommandCredsFile)
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}

	m = BackupManifest{Format: BackupFormat, GrantlogVersion: cfg.Version, CreatedAt: time.Now().UTC(), Stream: DefaultStream}
	// The signing key, sealed.
	key, err := b.sealedKey(ctx)
	if err != nil {
		return m, err
	}
	m.Files = append(m.Files, key)
	// The index checkpoints, before the events: every checkpoint is then at
	// or below the backup's last revision.
	if info, err := LatestSnapshot(ctx, js, cfg.Bucket); err == nil {
		m.CheckpointRevision = info.Revision
	}
	snaps, ok, err := b.streamFile(ctx, CommandAccount, "OBJ_"+cfg.Bucket, backupSnapshotsFile, true)
	if err != nil {
		return m, err
	}
	if ok {
		m.Files = append(m.Files, snaps)
	} else {
		m.CheckpointRevision = 0
	}
	evs, _, err := b.streamFile(ctx, StoreAccount, DefaultStream, backupEventsFile, false)
	if err != nil {
		return m, err
	}
	m.Files = append(m.Files, evs)
	m.FirstRevision, m.LastRevision, m.Messages = evs.FirstSeq, evs.LastSeq, evs.Messages
	if err := writeManifest(cfg.Dir, m, b.seal); err != nil {
		return m, err
	}
	return m, nil
}

// backupRun is one Backup.
type backupRun struct {
	cfg  BackupConfig
	prog *progress
	seal *sealing
}

// sealedKey snapshots the signing key bucket's stream into memory and
// writes it sealed.
func (b *backupRun) sealedKey(ctx context.Context) (BackupFile, error) {
	stream := "KV_" + logsig.DefaultBucket
	var buf bytes.Buffer
	lw := &limitWriter{w: &buf, left: maxSealedStream}
	f, ok, err := b.snapshot(ctx, stream, lw, true)
	if err != nil {
		return f, err
	}
	if !ok {
		return f, fmt.Errorf("backup: the deployment has no log signing key (bucket %s): start its command node once, then back up", logsig.DefaultBucket)
	}
	sealed, err := b.seal.seal(buf.Bytes())
	if err != nil {
		return f, err
	}
	sum := sha256.Sum256(sealed)
	if err := os.WriteFile(filepath.Join(b.cfg.Dir, backupKeyFile), sealed, 0o600); err != nil {
		return f, fmt.Errorf("backup: %w", err)
	}
	f.Name, f.Account, f.Sealed = backupKeyFile, CommandAccount, true
	f.Size, f.SHA256 = int64(len(sealed)), hex.EncodeToString(sum[:])
	return f, nil
}

// streamFile snapshots stream into the file name. optional: a missing
// stream is no error (ok false, no file).
func (b *backupRun) streamFile(ctx context.Context, account, stream, name string, optional bool) (BackupFile, bool, error) {
	path := filepath.Join(b.cfg.Dir, name)
	out, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return BackupFile{}, false, fmt.Errorf("backup: %w", err)
	}
	h := sha256.New()
	f, ok, err := b.snapshot(ctx, stream, io.MultiWriter(out, h), optional)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil || !ok {
		_ = os.Remove(path)
		return f, false, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return f, false, fmt.Errorf("backup: %w", err)
	}
	f.Name, f.Account, f.Size, f.SHA256 = name, account, st.Size(), hex.EncodeToString(h.Sum(nil))
	return f, true, nil
}

// apiError is the error of a JetStream API response.
type apiError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (JetStream error %d)", e.Description, e.ErrCode)
}

// streamState is the part of a JetStream stream state a backup records.
type streamState struct {
	Msgs     uint64 `json:"messages"`
	Bytes    uint64 `json:"bytes"`
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
}

// jsStreamNotFound is JetStream's error code for a missing stream.
const jsStreamNotFound = 10059

// snapshot runs JetStream's stream snapshot protocol: ask the embedded
// server's user (BackupSubject) for a snapshot delivered to
// BackupDeliverPrefix.<id>, write each chunk to w and ack it, until the
// final empty message. It returns the stream's configuration and state in
// a BackupFile (without name, size or checksum).
func (b *backupRun) snapshot(ctx context.Context, stream string, w io.Writer, optional bool) (BackupFile, bool, error) {
	f := BackupFile{Stream: stream}
	nc := b.cfg.Conn
	id := nuid.Next()
	sub, err := nc.SubscribeSync(BackupDeliverPrefix + "." + id)
	if err != nil {
		return f, false, fmt.Errorf("backup: subscribe: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return f, false, fmt.Errorf("backup: %w", err)
	}
	req, _ := json.Marshal(backupRequest{Stream: stream, ID: id})
	if err := nc.Flush(); err != nil {
		return f, false, fmt.Errorf("backup: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	msg, err := nc.RequestWithContext(rctx, BackupSubject, req)
	cancel()
	if errors.Is(err, nats.ErrNoResponders) {
		return f, false, fmt.Errorf("backup: nothing answers %s: backups are served by the node that runs the embedded NATS server (grantlog serve without --nats-url); connect to that one", BackupSubject)
	}
	if err != nil {
		return f, false, fmt.Errorf("backup: snapshot of stream %s: %w", stream, err)
	}
	var resp struct {
		Error  *apiError       `json:"error"`
		Config json.RawMessage `json:"config,omitempty"`
		State  *streamState    `json:"state"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return f, false, fmt.Errorf("backup: snapshot of stream %s: malformed answer: %w", stream, err)
	}
	if resp.Error != nil {
		if optional && resp.Error.ErrCode == jsStreamNotFound {
			return f, false, nil
		}
		return f, false, fmt.Errorf("backup: snapshot of stream %s: %w", stream, resp.Error)
	}
	if resp.State == nil || len(resp.Config) == 0 {
		return f, false, fmt.Errorf("backup: snapshot of stream %s: the answer has no state or configuration", stream)
	}
	f.Config, f.Messages, f.FirstSeq, f.LastSeq, f.Bytes = resp.Config, resp.State.Msgs, resp.State.FirstSeq, resp.State.LastSeq, resp.State.Bytes
	var done int64
	label := fmt.Sprintf("backup %s (%d messages, revisions %d-%d, %s in the stream)", stream, f.Messages, f.FirstSeq, f.LastSeq, sizeOf(int64(f.Bytes)))
	for {
		if err := ctx.Err(); err != nil {
			return f, false, err
		}
		m, err := sub.NextMsg(b.cfg.Timeout)
		if err != nil {
			return f, false, fmt.Errorf("backup: snapshot of stream %s: waiting for a chunk after %s: %w", stream, sizeOf(done), err)
		}
		if len(m.Data) == 0 {
			if st := m.Header.Get("Status"); st != "" && st != "204" {
				return f, false, fmt.Errorf("backup: snapshot of stream %s failed on the server: %s %s", stream, st, m.Header.Get("Description"))
			}
			break
		}
		if _, err := w.Write(m.Data); err != nil {
			return f, false, fmt.Errorf("backup: snapshot of stream %s: %w", stream, err)
		}
		done += int64(len(m.Data))
		if m.Reply != "" {
			if err := m.Respond(nil); err != nil {
				return f, false, fmt.Errorf("backup: snapshot of stream %s: ack: %w", stream, err)
			}
		}
		b.prog.report(label, done, 0)
	}
	b.prog.done(label, done, 0)
	return f, true, nil
}

// limitWriter fails once more than left bytes were written.
type limitWriter struct {
	w    io.Writer
	left int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.left {
		return 0, fmt.Errorf("backup: the stream is larger than %s", sizeOf(maxSealedStream))
	}
	l.left -= int64(len(p))
	return l.w.Write(p)
}

// removeWritten removes what a failed backup or restore wrote into dir:
// dir itself when it created it, else its entries.
// newOutputDir makes dir (mode 0700) for what op writes, refusing one that
// holds anything (advice says what to do instead); created says whether
// it did not exist (removeWritten then removes it whole).
func newOutputDir(dir, op, advice string) (created bool, err error) {
	empty, err := EmptyDir(dir)
	if err != nil {
		return false, err
	}
	if !empty {
		return false, fmt.Errorf("%s: %s is not empty: %s", op, dir, advice)
	}
	_, statErr := os.Stat(dir)
	created = errors.Is(statErr, os.ErrNotExist)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	return created, nil
}

// removeWritten removes what a failed backup or restore wrote into dir.
func removeWritten(dir string, created bool) {
	if created {
		_ = os.RemoveAll(dir)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// sizeOf renders n bytes for people.
func sizeOf(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// progress writes throttled progress lines.
type progress struct {
	w    io.Writer
	last time.Time
}

func newProgress(w io.Writer) *progress { return &progress{w: w} }

// report writes "label: done [of total]" at most every half second.
func (p *progress) report(label string, done, total int64) {
	if p.w == nil || time.Since(p.last) < 500*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.line(label, done, total)
}

// done writes the final line of label.
func (p *progress) done(label string, done, total int64) {
	if p.w != nil {
		p.line(label, done, total)
	}
}

func (p *progress) line(label string, done, total int64) {
	if total > 0 {
		fmt.Fprintf(p.w, "%s: %s of %s (%d%%)\n", label, sizeOf(done), sizeOf(total), done*100/total)
		return
	}
	fmt.Fprintf(p.w, "%s: %s received\n", label, sizeOf(done))
}

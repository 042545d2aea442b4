package eventlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// RestoreConfig configures Restore.
type RestoreConfig struct {
	// From is the backup directory.
	From string
	// DataDir is the new deployment's data directory: absent or empty.
	DataDir string
	// Passphrase is the backup's passphrase.
	Passphrase []byte
	// SyncAlways fsyncs every write of the embedded server (leave it on).
	SyncAlways bool
	// Progress, when set, receives progress lines.
	Progress io.Writer
	// Timeout bounds each wait for the server (default 30s).
	Timeout time.Duration
}

// VerifyBackup checks a backup without restoring it: the manifest's HMAC
// under passphrase, then every file's size and SHA-256, then that the
// sealed signing key opens. Any mismatch is ErrBackupTampered.
func VerifyBackup(dir string, passphrase []byte) (BackupManifest, error) {
	m, _, _, err := verifyBackup(dir, passphrase)
	return m, err
}

// backupNames are the files a backup may name, and whether each is
// required.
var backupNames = map[string]bool{backupEventsFile: true, backupKeyFile: true, backupSnapshotsFile: false}

func verifyBackup(dir string, passphrase []byte) (BackupManifest, *sealing, []byte, error) {
	m, s, err := readManifest(dir, passphrase)
	if err != nil {
		return m, nil, nil, err
	}
	seen := map[string]bool{}
	for i := range m.Files {
		f := &m.Files[i]
		if _, known := backupNames[f.Name]; !known || seen[f.Name] {
			return m, nil, nil, fmt.Errorf("%w: the manifest names an unknown or repeated file %q", ErrBackupTampered, f.Name)
		}
		seen[f.Name] = true
		if err := checkFile(filepath.Join(dir, f.Name), f); err != nil {
			return m, nil, nil, err
		}
	}
	for name, required := range backupNames {
		if required && !seen[name] {
			return m, nil, nil, fmt.Errorf("%w: the manifest has no %s", ErrBackupTampered, name)
		}
	}
	evs, _ := m.file(backupEventsFile)
	if evs.Stream != DefaultStream || m.Stream != DefaultStream || evs.FirstSeq != m.FirstRevision || evs.LastSeq != m.LastRevision || evs.Messages != m.Messages {
		return m, nil, nil, fmt.Errorf("%w: the manifest's event stream entry disagrees with its revisions", ErrBackupTampered)
	}
	sealed, err := os.ReadFile(filepath.Join(dir, backupKeyFile))
	if err != nil {
		return m, nil, nil, fmt.Errorf("restore: %w", err)
	}
	keyStream, err := s.open(sealed)
	if err != nil {
		return m, nil, nil, err
	}
	return m, s, keyStream, nil
}

// checkFile compares a file's size and SHA-256 with its manifest entry.
func checkFile(path string, f *BackupFile) error {
	in, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBackupTampered, err)
	}
	defer func() { _ = in.Close() }()
	h := sha256.New()
	n, err := io.Copy(h, in)
	if err != nil {
		return fmt.Errorf("restore: read %s: %w", path, err)
	}
	if n != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return fmt.Errorf("%w: %s: size %d, SHA-256 %x; the manifest says size %d, SHA-256 %s: the file was changed or damaged; restore from another copy of the backup",
			ErrBackupTampered, filepath.Base(path), n, h.Sum(nil), f.Size, f.SHA256)
	}
	return nil
}

// Restore restores the backup From into the new data directory DataDir:
// it verifies the whole backup first (VerifyBackup; nothing is written when
// it fails), then starts an embedded NATS server on DataDir (no listener)
// and restores each stream through JetStream's restore API, and checks the
// event stream's state against the manifest. "grantlog serve --data-dir
// DataDir" then serves it: its index starts from the backup's newest
// checkpoint and replays the rest. On failure it removes what it wrote.
func Restore(ctx context.Context, cfg RestoreConfig) (m BackupManifest, err error) {
	if cfg.From == "" || cfg.DataDir == "" {
		return m, errors.New("restore: a backup directory and a data directory are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	m, _, keyStream, err := verifyBackup(cfg.From, cfg.Passphrase)
	if err != nil {
		return m, err
	}
	created, err := newOutputDir(cfg.DataDir, "restore", "restore into a new, empty data directory (a restore never merges into a deployment)")
	if err != nil {
		return m, err
	}
	defer func() {
		if err != nil {
			removeWritten(cfg.DataDir, created)
		}
	}()
	e, err := StartEmbedded(EmbeddedConfig{DataDir: cfg.DataDir, NoListen: true, SyncAlways: cfg.SyncAlways})
	if err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	defer e.Close()
	prog := newProgress(cfg.Progress)
	for i := range m.Files {
		if err := restoreFile(ctx, e, &cfg, &m.Files[i], keyStream, prog); err != nil {
			return m, err
		}
	}
	// The event stream as restored must be the one the manifest describes.
	js, err := jetstream.New(e.StoreConn)
	if err != nil {
		return m, err
	}
	st, err := js.Stream(ctx, DefaultStream)
	if err != nil {
		return m, fmt.Errorf("restore: the restored event stream: %w", err)
	}
	s := st.CachedInfo().State
	if s.Msgs != m.Messages || s.FirstSeq != m.FirstRevision || s.LastSeq != m.LastRevision {
		return m, fmt.Errorf("restore: the restored event stream holds %d messages, revisions %d-%d; the backup says %d, %d-%d",
			s.Msgs, s.FirstSeq, s.LastSeq, m.Messages, m.FirstRevision, m.LastRevision)
	}
	return m, nil
}

// restoreFile restores the stream of one backup file.
func restoreFile(ctx context.Context, e *Embedded, cfg *RestoreConfig, f *BackupFile, keyStream []byte, prog *progress) error {
	nc := e.Conn
	switch f.Account {
	case StoreAccount:
		nc = e.StoreConn
	case CommandAccount:
	default:
		return fmt.Errorf("%w: file %s names account %q", ErrBackupTampered, f.Name, f.Account)
	}
	if f.Sealed {
		return restoreStream(ctx, nc, f, bytes.NewReader(keyStream), int64(len(keyStream)), prog, cfg.Timeout)
	}
	in, err := os.Open(filepath.Join(cfg.From, f.Name))
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer func() { _ = in.Close() }()
	// The file was checked before; check it again as it is sent, so that a
	// change in between fails the restore.
	return restoreStream(ctx, nc, f, &verifyingReader{r: in, h: sha256.New(), f: f}, f.Size, prog, cfg.Timeout)
}

// verifyingReader hashes what it reads and fails at EOF when the content
// is not the manifest's.
type verifyingReader struct {
	r io.Reader
	h hash.Hash
	n int64
	f *BackupFile
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	_, _ = v.h.Write(p[:n])
	v.n += int64(n)
	if errors.Is(err, io.EOF) && (v.n != v.f.Size || hex.EncodeToString(v.h.Sum(nil)) != v.f.SHA256) {
		return n, fmt.Errorf("%w: %s changed while it was restored", ErrBackupTampered, v.f.Name)
	}
	return n, err
}

// restoreStream runs JetStream's stream restore protocol on nc's account:
// ask for a restore of f.Stream with its configuration, send the snapshot
// in chunks (each a request the server acks), then an empty message, whose
// answer is the restored stream's info or the error.
func restoreStream(ctx context.Context, nc *nats.Conn, f *BackupFile, src io.Reader, size int64, prog *progress, timeout time.Duration) error {
	req, err := json.Marshal(map[string]any{"config": f.Config, "state": map[string]uint64{
		"messages": f.Messages, "bytes": f.Bytes, "first_seq": f.FirstSeq, "last_seq": f.LastSeq}})
	if err != nil {
		return err
	}
	request := func(subject string, data []byte) ([]byte, error) {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		msg, err := nc.RequestWithContext(rctx, subject, data)
		if err != nil {
			return nil, err
		}
		return msg.Data, nil
	}
	raw, err := request("$JS.API.STREAM.RESTORE."+f.Stream, req)
	if err != nil {
		return fmt.Errorf("restore: stream %s: %w", f.Stream, err)
	}
	var resp struct {
		Error          *apiError `json:"error"`
		DeliverSubject string    `json:"deliver_subject"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return fmt.Errorf("restore: stream %s: malformed answer: %w", f.Stream, err)
	}
	if resp.Error != nil {
		return fmt.Errorf("restore: stream %s: %w", f.Stream, resp.Error)
	}
	label := fmt.Sprintf("restore %s (%d messages, revisions %d-%d)", f.Stream, f.Messages, f.FirstSeq, f.LastSeq)
	buf := make([]byte, backupChunk)
	var done int64
	for {
		n, rerr := io.ReadFull(src, buf)
		if n > 0 {
			ack, err := request(resp.DeliverSubject, buf[:n])
			if err != nil {
				return fmt.Errorf("restore: stream %s after %s: %w", f.Stream, sizeOf(done), err)
			}
			if len(ack) > 0 {
				return fmt.Errorf("restore: stream %s after %s: %s", f.Stream, sizeOf(done), jsErrorText(ack))
			}
			done += int64(n)
			prog.report(label, done, size)
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	raw, err = request(resp.DeliverSubject, nil)
	if err != nil {
		return fmt.Errorf("restore: stream %s: finishing: %w", f.Stream, err)
	}
	var fin struct {
		Error *apiError `json:"error"`
	}
	if err := json.Unmarshal(raw, &fin); err != nil {
		return fmt.Errorf("restore: stream %s: malformed answer: %w", f.Stream, err)
	}
	if fin.Error != nil {
		return fmt.Errorf("restore: stream %s: %w", f.Stream, fin.Error)
	}
	prog.done(label, done, size)
	return nil
}

// jsErrorText renders a JetStream error answer.
func jsErrorText(raw []byte) string {
	var r struct {
		Error *apiError `json:"error"`
	}
	if json.Unmarshal(raw, &r) == nil && r.Error != nil {
		return r.Error.Error()
	}
	return string(raw)
}

package eventlog

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/storage/logsig"
)

// Defaults.
const (
	// DefaultSnapshotBucket is the Object Store bucket snapshots go to.
	DefaultSnapshotBucket = "GRANTLOG_SNAPSHOTS"
	// DefaultSnapshotKeep is how many snapshots TakeSnapshot keeps.
	DefaultSnapshotKeep = 3
)

// Object metadata keys.
const (
	SnapshotMetaRevision     = "revision"
	SnapshotMetaPebbleFormat = "pebble-format"
	SnapshotMetaLayout       = "layout"
	SnapshotMetaCreatedAt    = "created-at"
	SnapshotMetaNode         = "node"
)

const (
	// chunkSize is the object store's default chunk size.
	chunkSize    = 128 << 10
	objectPrefix = "index-"
	objectSuffix = ".tar.gz"
)

// Errors.
var (
	// ErrNoSnapshot: the bucket does not exist or holds no snapshot.
	ErrNoSnapshot = errors.New("snapshot: no snapshot")
	// ErrSnapshotIncompatible: the snapshot was written by a binary whose index
	// this one cannot open (newer Pebble format, other key layout).
	ErrSnapshotIncompatible = errors.New("snapshot: incompatible snapshot")
	// ErrUnsafeArchive: the archive holds an entry that is not a plain file
	// or directory inside the target directory (path traversal, links).
	ErrUnsafeArchive = errors.New("snapshot: unsafe archive entry")
	// ErrTargetNotEmpty: Restore's target directory holds files.
	ErrTargetNotEmpty = errors.New("snapshot: target directory is not empty")
)

// SnapshotInfo describes a stored snapshot.
type SnapshotInfo struct {
	// Object is the object's name in the bucket: index-<revision>.tar.gz.
	Object string `json:"object"`
	// Revision is the applied revision the snapshot holds.
	Revision uint64 `json:"revision"`
	// PebbleFormat is the Pebble format major version of the database.
	PebbleFormat uint64 `json:"pebbleFormat"`
	// Layout is the index key layout version.
	Layout string `json:"layout"`
	// CreatedAt is when the snapshot was taken.
	CreatedAt time.Time `json:"createdAt"`
	// Node is the node that took it.
	Node string `json:"node"`
	// Bytes is the size of the compressed archive.
	Bytes int64 `json:"bytes"`
	// SignedBy is the id of the log signing key the snapshot's manifest
	// names ("" for an unsigned snapshot); ListSnapshots does not verify it.
	SignedBy string `json:"signedBy,omitempty"`
}

// SnapshotObjectName is the object name of a snapshot at revision rev.
func SnapshotObjectName(rev uint64) string {
	return objectPrefix + strconv.FormatUint(rev, 10) + objectSuffix
}

// SnapshotOption adjusts TakeSnapshot.
type SnapshotOption func(*options)

type options struct {
	node string
	keep int
	// replicas of the bucket when TakeSnapshot creates it.
	replicas int
	tempDir  string
	signer   *logsig.Key
	events   jetstream.Stream
}

// WithSnapshotNode names the node in the snapshot's metadata; default the host name.
func WithSnapshotNode(name string) SnapshotOption { return func(o *options) { o.node = name } }

// WithSnapshotKeep keeps the newest k snapshots (k >= 1); default DefaultSnapshotKeep.
func WithSnapshotKeep(k int) SnapshotOption { return func(o *options) { o.keep = k } }

// WithSnapshotReplicas sets the bucket's replicas when TakeSnapshot
// creates it (default 1).
func WithSnapshotReplicas(n int) SnapshotOption { return func(o *options) { o.replicas = n } }

// WithSnapshotSigner signs the snapshot's manifest with the log signing key key;
// events is the event stream (the manifest records the hash of the event
// at the snapshot's revision). Without it the snapshot is unsigned, and
// RestoreSnapshotForStream refuses it.
func WithSnapshotSigner(key *logsig.Key, events jetstream.Stream) SnapshotOption {
	return func(o *options) { o.signer, o.events = key, events }
}

// WithSnapshotTempDir puts the temporary checkpoint under dir (it should be on the
// index's file system so the checkpoint can hard-link); default os.TempDir().
func WithSnapshotTempDir(dir string) SnapshotOption { return func(o *options) { o.tempDir = dir } }

func buildOptions(opts []SnapshotOption) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.node == "" {
		o.node, _ = os.Hostname()
	}
	if o.keep < 1 {
		o.keep = DefaultSnapshotKeep
	}
	return o
}

// TakeSnapshot checkpoints store, uploads the checkpoint as a zstd-compressed tar to bucket
// (DefaultSnapshotBucket when ""; created with file storage when missing) as
// SnapshotObjectName(revision), signs its manifest (WithSnapshotSigner), and deletes all
// but the newest snapshots. The
// temporary checkpoint is removed before TakeSnapshot returns. A failure to delete
// old snapshots is reported only when the upload succeeded (the returned
// SnapshotInfo is then valid).
func TakeSnapshot(ctx context.Context, store *index.Store, js jetstream.JetStream, bucket string, opts ...SnapshotOption) (SnapshotInfo, error) {
	o := buildOptions(opts)
	obs, err := openOrCreate(ctx, js, bucket, o.replicas)
	if err != nil {
		return SnapshotInfo{}, err
	}
	tmp, err := os.MkdirTemp(o.tempDir, "grantlog-checkpoint-")
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("snapshot: temp dir: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	cp := filepath.Join(tmp, "index")
	rev, err := store.Checkpoint(cp)
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("snapshot: %w", err)
	}
	info := SnapshotInfo{
		Object: SnapshotObjectName(rev), Revision: rev, PebbleFormat: store.PebbleFormat(), Layout: index.LayoutVersion,
		CreatedAt: time.Now().UTC(), Node: o.node,
	}
	sum := sha256.New()

	eventHash := ""
	if o.signer != nil {
		if eventHash, err = eventHashAt(ctx, o.events, rev); err != nil {
			return SnapshotInfo{}, err
		}
	}

	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		// Whole chunks: the object store makes one message (and, with
		// sync_interval always, one fsync) per Read of the pipe, and a
		// pipe Read returns at most one Write.
		bw := bufio.NewWriterSize(pw, chunkSize)
		err := writeArchive(bw, cp)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
		done <- err
	}()
	oi, err := obs.Put(ctx, jetstream.ObjectMeta{
		Name:        info.Object,
		Description: fmt.Sprintf("Grantlog index checkpoint at revision %d", rev),
		Metadata: map[string]string{
			SnapshotMetaRevision:     strconv.FormatUint(rev, 10),
			SnapshotMetaPebbleFormat: strconv.FormatUint(info.PebbleFormat, 10),
			SnapshotMetaLayout:       info.Layout,
			SnapshotMetaCreatedAt:    info.CreatedAt.Format(time.RFC3339Nano),
			SnapshotMetaNode:         info.Node,
		},
	}, io.TeeReader(pr, sum))
	pr.CloseWithError(errors.New("snapshot: upload ended")) // unblocks the writer if Put gave up early
	archiveErr := <-done
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("snapshot: upload %s: %w", info.Object, err)
	}
	if archiveErr != nil {
		return SnapshotInfo{}, fmt.Errorf("snapshot: archive: %w", archiveErr)
	}
	_ = os.RemoveAll(tmp)
	info.Bytes = int64(oi.Size) //nolint:gosec // object sizes fit in int64
	if o.signer != nil {
		// The manifest names the archive's digest, known once uploaded:
		// it is added to the object's metadata after (a reader meanwhile
		// sees an unsigned snapshot, and skips it).
		md, err := signManifest(SnapshotManifest{Object: info.Object, Revision: rev, ArchiveSHA256: hex.EncodeToString(sum.Sum(nil)),
			ArchiveBytes: info.Bytes, PebbleFormat: info.PebbleFormat, Layout: info.Layout, CreatedAt: info.CreatedAt,
			Node: info.Node, EventHash: eventHash}, o.signer)
		if err != nil {
			return SnapshotInfo{}, fmt.Errorf("snapshot: manifest: %w", err)
		}
		maps.Copy(md, oi.Metadata)
		if err := obs.UpdateMeta(ctx, info.Object, jetstream.ObjectMeta{Name: info.Object, Description: oi.Description, Metadata: md}); err != nil {
			return SnapshotInfo{}, fmt.Errorf("snapshot: sign %s: %w", info.Object, err)
		}
		info.SignedBy = logsig.SignerOf(md[SnapshotMetaManifestSig])
	}

	if err := prune(ctx, js, bucket, obs, o.keep); err != nil {
		return info, err
	}
	return info, nil
}

// EnsureSnapshotBucket creates the snapshot bucket (replicas copies) when
// it is missing, so that other regions can mirror it before the first
// snapshot.
func EnsureSnapshotBucket(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) error {
	_, err := openOrCreate(ctx, js, bucket, replicas)
	return err
}

func openOrCreate(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (jetstream.ObjectStore, error) {
	if bucket == "" {
		bucket = DefaultSnapshotBucket
	}
	obs, err := js.ObjectStore(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obs, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      bucket,
			Description: "Grantlog index snapshots (Pebble checkpoints with their revision)",
			Storage:     jetstream.FileStorage,
			Replicas:    max(replicas, 1),
		})
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: bucket %s: %w", bucket, err)
	}
	return obs, nil
}

// prune deletes all but the newest keep snapshots.
func prune(ctx context.Context, js jetstream.JetStream, bucketName string, obs jetstream.ObjectStore, keep int) error {
	b, err := openBucket(ctx, js, bucketName)
	if err != nil {
		return err
	}
	all, err := b.list(ctx)
	if err != nil || len(all) <= keep {
		return err
	}
	var errs []error
	for _, old := range all[keep:] {
		if err := obs.Delete(ctx, old.info.Object); err != nil {
			errs = append(errs, fmt.Errorf("snapshot: delete old snapshot %s: %w", old.info.Object, err))
		}
	}
	return errors.Join(errs...)
}

// ListSnapshots returns the snapshots in bucket (DefaultSnapshotBucket when ""), newest
// (highest revision) first; ErrNoSnapshot when there are none. Nothing in
// an SnapshotInfo of ListSnapshots is verified: RestoreSnapshotForStream verifies what it restores.
// It reads the bucket through stream calls that create nothing (see
// bucket), so a reader in another account can list.
func ListSnapshots(ctx context.Context, js jetstream.JetStream, bucketName string) ([]SnapshotInfo, error) {
	b, err := openBucket(ctx, js, bucketName)
	if err != nil {
		return nil, err
	}
	all, err := b.list(ctx)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, ErrNoSnapshot
	}
	out := make([]SnapshotInfo, len(all))
	for i, c := range all {
		out[i] = c.info
	}
	return out, nil
}

// LatestSnapshot returns the newest snapshot in bucket; ErrNoSnapshot when there is
// none.
func LatestSnapshot(ctx context.Context, js jetstream.JetStream, bucket string) (SnapshotInfo, error) {
	all, err := ListSnapshots(ctx, js, bucket)
	if err != nil {
		return SnapshotInfo{}, err
	}
	return all[0], nil
}

// candidate is a snapshot object with its SnapshotInfo.
type candidate struct {
	info SnapshotInfo
	obj  *jetstream.ObjectInfo
}

// list returns the bucket's snapshots, newest first.
func (b *bucket) list(ctx context.Context) ([]candidate, error) {
	objs, err := b.objects(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]candidate, 0, len(objs))
	for _, oi := range objs {
		if info, ok := infoOf(oi); ok {
			out = append(out, candidate{info: info, obj: oi})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].info.Revision != out[j].info.Revision {
			return out[i].info.Revision > out[j].info.Revision
		}
		return out[i].info.CreatedAt.After(out[j].info.CreatedAt)
	})
	return out, nil
}

// infoOf reads a snapshot's SnapshotInfo from its object; ok is false for objects
// that are not snapshots.
func infoOf(oi *jetstream.ObjectInfo) (SnapshotInfo, bool) {
	if oi.Deleted || !strings.HasPrefix(oi.Name, objectPrefix) || !strings.HasSuffix(oi.Name, objectSuffix) {
		return SnapshotInfo{}, false
	}
	md := oi.Metadata
	rev, err := strconv.ParseUint(md[SnapshotMetaRevision], 10, 64)
	if err != nil {
		return SnapshotInfo{}, false
	}
	info := SnapshotInfo{Object: oi.Name, Revision: rev, Layout: md[SnapshotMetaLayout], Node: md[SnapshotMetaNode],
		Bytes: int64(oi.Size), SignedBy: logsig.SignerOf(md[SnapshotMetaManifestSig])} //nolint:gosec // object sizes fit in int64
	info.PebbleFormat, _ = strconv.ParseUint(md[SnapshotMetaPebbleFormat], 10, 64)
	if t, err := time.Parse(time.RFC3339Nano, md[SnapshotMetaCreatedAt]); err == nil {
		info.CreatedAt = t
	} else {
		info.CreatedAt = oi.ModTime
	}
	return info, true
}

// Compatible returns nil when this binary can open the snapshot's index,
// else an error wrapping ErrSnapshotIncompatible that says why.
func (i SnapshotInfo) Compatible() error {
	if i.PebbleFormat > index.SupportedPebbleFormat() {
		return fmt.Errorf("%w: %s uses Pebble format %d, this binary supports up to %d; upgrade this binary",
			ErrSnapshotIncompatible, i.Object, i.PebbleFormat, index.SupportedPebbleFormat())
	}
	layout, err := strconv.ParseUint(i.Layout, 10, 64)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %s has index layout %q, this binary reads %s", ErrSnapshotIncompatible, i.Object, i.Layout, index.LayoutVersion)
	case layout > index.SupportedLayout():
		return fmt.Errorf("%w: %s has index layout %d, newer than this binary's %s; upgrade this binary",
			ErrSnapshotIncompatible, i.Object, layout, index.LayoutVersion)
	case layout < index.OldestLayout():
		return fmt.Errorf("%w: %s has index layout %d, older than this binary's %s; replay the stream instead",
			ErrSnapshotIncompatible, i.Object, layout, index.LayoutVersion)
	}
	return nil
}

// checkTarget makes sure dir does not exist or is an empty directory (then
// removed, to be replaced by the unpacked snapshot).
func checkTarget(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("snapshot: target %s: %w", dir, err)
	case len(entries) > 0:
		return fmt.Errorf("%w: %s (move it aside first)", ErrTargetNotEmpty, dir)
	}
	if err := os.Remove(dir); err != nil {
		return fmt.Errorf("snapshot: target %s: %w", dir, err)
	}
	return nil
}

// unpackInto unpacks the archive r into a fresh sibling of dir and renames
// it to dir once complete and check (the archive's digest) passed.
func unpackInto(r io.Reader, dir string, check func() error) error {
	tmp := dir + ".restoring"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	if err := readArchive(r, tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	// Read to the end: the digests are known at EOF.
	if _, err := io.Copy(io.Discard, r); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	if err := check(); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	// The restore is in place: a failure to make the rename durable is not
	// a failed restore (a crash before it reaches the disk leaves no
	// restore, and the next start restores again).
	_ = syncDir(filepath.Dir(dir))
	return nil
}

type progressReader struct {
	r     io.Reader
	done  int64
	total int64
	fn    func(done, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.done += int64(n)
		p.fn(p.done, p.total)
	}
	return n, err
}

// RestoreSnapshotOptions adjust RestoreSnapshotForStream.
type RestoreSnapshotOptions struct {
	// Progress, when set, is called as bytes arrive with the bytes read so
	// far and the archive's size.
	Progress func(done, total int64)
	// Logger receives why each refused snapshot was refused (warning);
	// default slog.Default().
	Logger *slog.Logger
	// SubjectPrefix of the event stream; default events.DefaultSubjectPrefix.
	SubjectPrefix string
	// TrustedKeys are log signing keys the caller already trusts (the keys
	// of the node's previous index), for a stream that no longer holds the
	// events that announced them (retention limits): they vouch for
	// snapshots besides the keys the stream announces.
	TrustedKeys logsig.Keys
	// MaxRevision, when not zero, restores only snapshots at or below it
	// (a past view of the index: query.HistoryConfig.Snapshots).
	MaxRevision uint64
}

// RestoreSnapshotForStream restores the newest authentic snapshot of bucket
// (DefaultSnapshotBucket when "") into dir (absent or empty) for an index that
// will follow stream (the event stream, or a reader's mirror of it) from
// the snapshot's revision on. js reaches the bucket (for a reader, through
// the command account's exports: jetstream.NewWithAPIPrefix); it is read
// through stream calls only (see bucket).
//
// A snapshot is restored only when
//   - its manifest is signed by a log signing key announced in stream
//     (read from stream itself, by the rules every node applies),
//   - its revision is not ahead of the stream's head, and the stream's
//     event at that revision is the one the snapshot was taken after,
//   - the stream still holds the event after its revision,
//   - this binary can open it, and
//   - its archive's bytes have the SHA-256 the manifest names (checked as
//     they are unpacked; a mismatch removes what was unpacked).
//
// A snapshot that fails is logged with the reason and the next newest is
// tried. When none is left, RestoreSnapshotForStream returns an error wrapping
// ErrNoSnapshot (and ErrSnapshotRefused when some were refused), having restored
// nothing: the caller replays the stream from the start.
func RestoreSnapshotForStream(ctx context.Context, js jetstream.JetStream, bucketName, dir string, stream jetstream.Stream,
	opts RestoreSnapshotOptions,
) (SnapshotInfo, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	b, err := openBucket(ctx, js, bucketName)
	if err != nil {
		return SnapshotInfo{}, err
	}
	all, err := b.list(ctx)
	if err != nil {
		return SnapshotInfo{}, err
	}
	if len(all) == 0 {
		return SnapshotInfo{}, fmt.Errorf("%w in bucket %s", ErrNoSnapshot, b.name)
	}
	if opts.MaxRevision > 0 && all[len(all)-1].info.Revision > opts.MaxRevision {
		return SnapshotInfo{}, fmt.Errorf("%w at or below revision %d in bucket %s (the oldest is at %d)",
			ErrNoSnapshot, opts.MaxRevision, b.name, all[len(all)-1].info.Revision)
	}
	if err := checkTarget(dir); err != nil {
		return SnapshotInfo{}, err
	}
	tr, err := loadTrust(ctx, stream, opts.SubjectPrefix)
	if err != nil {
		return SnapshotInfo{}, err
	}
	for id, k := range opts.TrustedKeys {
		tr.keys[id] = k
	}
	var refused []error
	for _, c := range all {
		if opts.MaxRevision > 0 && c.info.Revision > opts.MaxRevision {
			continue
		}
		info, err := tr.restore(ctx, b, c, dir, opts.Progress)
		if err == nil {
			return info, nil
		}
		if ctx.Err() != nil {
			return SnapshotInfo{}, ctx.Err()
		}
		opts.Logger.Warn("snapshot refused: trying the next newest", "object", c.info.Object, "revision", c.info.Revision,
			"signedBy", c.info.SignedBy, "reason", err)
		refused = append(refused, fmt.Errorf("%s: %w", c.info.Object, err))
	}
	return SnapshotInfo{}, fmt.Errorf("%w that can be restored in bucket %s: %w", ErrNoSnapshot, b.name, errors.Join(refused...))
}

// restore verifies c and restores it into dir.
func (t *trust) restore(ctx context.Context, b *bucket, c candidate, dir string, progress func(done, total int64)) (SnapshotInfo, error) {
	m, err := t.verify(ctx, c.obj)
	if err != nil {
		return SnapshotInfo{}, err
	}
	info := SnapshotInfo{Object: c.obj.Name, Revision: m.Revision, PebbleFormat: m.PebbleFormat, Layout: m.Layout,
		CreatedAt: m.CreatedAt, Node: m.Node, Bytes: m.ArchiveBytes, SignedBy: logsig.SignerOf(c.obj.Metadata[SnapshotMetaManifestSig])}
	if st := t.info.State; st.Msgs > 0 && st.FirstSeq > m.Revision+1 {
		return SnapshotInfo{}, fmt.Errorf("%w: the snapshot is at revision %d but the stream starts at %d: take a new snapshot on a healthy node",
			ErrSnapshotRefused, m.Revision, st.FirstSeq)
	}
	if err := info.Compatible(); err != nil {
		return SnapshotInfo{}, err
	}
	if int64(c.obj.Size) != m.ArchiveBytes { //nolint:gosec // object sizes fit in int64
		return SnapshotInfo{}, fmt.Errorf("%w: the object holds %d bytes, the manifest names %d", ErrSnapshotArchive, c.obj.Size, m.ArchiveBytes)
	}
	pr, pw := io.Pipe()
	sum := sha256.New()
	go func() {
		pw.CloseWithError(b.read(ctx, c.obj, io.MultiWriter(pw, sum)))
	}()
	r := io.Reader(pr)
	if progress != nil {
		r = &progressReader{r: pr, total: m.ArchiveBytes, fn: progress}
	}
	err = unpackInto(r, dir, func() error {
		if got := hex.EncodeToString(sum.Sum(nil)); got != m.ArchiveSHA256 {
			return fmt.Errorf("%w: the archive hashes to %s, the manifest names %s", ErrSnapshotArchive, got, m.ArchiveSHA256)
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrSnapshotArchive) {
		// Unpacking failed before the end: if the bytes are not the
		// signed ones, say so rather than how they failed to unpack.
		if _, cerr := io.Copy(io.Discard, pr); cerr == nil && hex.EncodeToString(sum.Sum(nil)) != m.ArchiveSHA256 {
			err = fmt.Errorf("%w: the archive is not the one the manifest names (%w)", ErrSnapshotArchive, err)
		}
	}
	pr.CloseWithError(errors.New("snapshot: restore ended")) // unblocks the reader if unpacking gave up early
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("snapshot: restore %s: %w", c.obj.Name, err)
	}
	return info, nil
}

// EmptyDir reports whether dir is absent or an empty directory.
func EmptyDir(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("snapshot: %s: %w", dir, err)
	}
	return len(entries) == 0, nil
}

package snapshot

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/internal/index"
)

// Defaults.
const (
	// DefaultBucket is the Object Store bucket snapshots go to.
	DefaultBucket = "GRANTLOG_SNAPSHOTS"
	// DefaultKeep is how many snapshots Take keeps.
	DefaultKeep = 3
)

// Object metadata keys.
const (
	MetaRevision     = "revision"
	MetaPebbleFormat = "pebble-format"
	MetaLayout       = "layout"
	MetaCreatedAt    = "created-at"
	MetaNode         = "node"
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
	// ErrIncompatible: the snapshot was written by a binary whose index
	// this one cannot open (newer Pebble format, other key layout).
	ErrIncompatible = errors.New("snapshot: incompatible snapshot")
	// ErrUnsafeArchive: the archive holds an entry that is not a plain file
	// or directory inside the target directory (path traversal, links).
	ErrUnsafeArchive = errors.New("snapshot: unsafe archive entry")
	// ErrTargetNotEmpty: Restore's target directory holds files.
	ErrTargetNotEmpty = errors.New("snapshot: target directory is not empty")
)

// Info describes a stored snapshot.
type Info struct {
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
}

// ObjectName is the object name of a snapshot at revision rev.
func ObjectName(rev uint64) string { return objectPrefix + strconv.FormatUint(rev, 10) + objectSuffix }

// Option adjusts Take.
type Option func(*options)

type options struct {
	node    string
	keep    int
	tempDir string
}

// WithNode names the node in the snapshot's metadata; default the host name.
func WithNode(name string) Option { return func(o *options) { o.node = name } }

// WithKeep keeps the newest k snapshots (k >= 1); default DefaultKeep.
func WithKeep(k int) Option { return func(o *options) { o.keep = k } }

// WithTempDir puts the temporary checkpoint under dir (it should be on the
// index's file system so the checkpoint can hard-link); default os.TempDir().
func WithTempDir(dir string) Option { return func(o *options) { o.tempDir = dir } }

func buildOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.node == "" {
		o.node, _ = os.Hostname()
	}
	if o.keep < 1 {
		o.keep = DefaultKeep
	}
	return o
}

// Take checkpoints store, uploads the checkpoint as a gzipped tar to bucket
// (DefaultBucket when ""; created with file storage when missing) as
// ObjectName(revision), and deletes all but the newest snapshots. The
// temporary checkpoint is removed before Take returns. A failure to delete
// old snapshots is reported only when the upload succeeded (the returned
// Info is then valid).
func Take(ctx context.Context, store *index.Store, js jetstream.JetStream, bucket string, opts ...Option) (Info, error) {
	o := buildOptions(opts)
	obs, err := openOrCreate(ctx, js, bucket)
	if err != nil {
		return Info{}, err
	}
	tmp, err := os.MkdirTemp(o.tempDir, "grantlog-checkpoint-")
	if err != nil {
		return Info{}, fmt.Errorf("snapshot: temp dir: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	cp := filepath.Join(tmp, "index")
	rev, err := store.Checkpoint(cp)
	if err != nil {
		return Info{}, fmt.Errorf("snapshot: %w", err)
	}
	info := Info{
		Object: ObjectName(rev), Revision: rev, PebbleFormat: store.PebbleFormat(), Layout: index.LayoutVersion,
		CreatedAt: time.Now().UTC(), Node: o.node,
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
			MetaRevision:     strconv.FormatUint(rev, 10),
			MetaPebbleFormat: strconv.FormatUint(info.PebbleFormat, 10),
			MetaLayout:       info.Layout,
			MetaCreatedAt:    info.CreatedAt.Format(time.RFC3339Nano),
			MetaNode:         info.Node,
		},
	}, pr)
	pr.CloseWithError(errors.New("snapshot: upload ended")) // unblocks the writer if Put gave up early
	archiveErr := <-done
	if err != nil {
		return Info{}, fmt.Errorf("snapshot: upload %s: %w", info.Object, err)
	}
	if archiveErr != nil {
		return Info{}, fmt.Errorf("snapshot: archive: %w", archiveErr)
	}
	_ = os.RemoveAll(tmp)
	info.Bytes = int64(oi.Size) //nolint:gosec // object sizes fit in int64

	if err := prune(ctx, obs, o.keep); err != nil {
		return info, err
	}
	return info, nil
}

func openOrCreate(ctx context.Context, js jetstream.JetStream, bucket string) (jetstream.ObjectStore, error) {
	if bucket == "" {
		bucket = DefaultBucket
	}
	obs, err := js.ObjectStore(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obs, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      bucket,
			Description: "Grantlog index snapshots (Pebble checkpoints with their revision)",
			Storage:     jetstream.FileStorage,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: bucket %s: %w", bucket, err)
	}
	return obs, nil
}

// prune deletes all but the newest keep snapshots.
func prune(ctx context.Context, obs jetstream.ObjectStore, keep int) error {
	all, err := list(ctx, obs)
	if err != nil || len(all) <= keep {
		return err
	}
	var errs []error
	for _, old := range all[keep:] {
		if err := obs.Delete(ctx, old.Object); err != nil {
			errs = append(errs, fmt.Errorf("snapshot: delete old snapshot %s: %w", old.Object, err))
		}
	}
	return errors.Join(errs...)
}

// List returns the snapshots in bucket (DefaultBucket when ""), newest
// (highest revision) first; ErrNoSnapshot when there are none.
func List(ctx context.Context, js jetstream.JetStream, bucket string) ([]Info, error) {
	obs, err := open(ctx, js, bucket)
	if err != nil {
		return nil, err
	}
	all, err := list(ctx, obs)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, ErrNoSnapshot
	}
	return all, nil
}

// Latest returns the newest snapshot in bucket; ErrNoSnapshot when there is
// none.
func Latest(ctx context.Context, js jetstream.JetStream, bucket string) (Info, error) {
	all, err := List(ctx, js, bucket)
	if err != nil {
		return Info{}, err
	}
	return all[0], nil
}

func open(ctx context.Context, js jetstream.JetStream, bucket string) (jetstream.ObjectStore, error) {
	if bucket == "" {
		bucket = DefaultBucket
	}
	obs, err := js.ObjectStore(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("%w: no bucket %s", ErrNoSnapshot, bucket)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: bucket %s: %w", bucket, err)
	}
	return obs, nil
}

func list(ctx context.Context, obs jetstream.ObjectStore) ([]Info, error) {
	objs, err := obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: list: %w", err)
	}
	out := make([]Info, 0, len(objs))
	for _, oi := range objs {
		if info, ok := infoOf(oi); ok {
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Revision != out[j].Revision {
			return out[i].Revision > out[j].Revision
		}
		return out[i].CreatedAt.After(out[j].CreatedAt)
	})
	return out, nil
}

// infoOf reads a snapshot's Info from its object; ok is false for objects
// that are not snapshots.
func infoOf(oi *jetstream.ObjectInfo) (Info, bool) {
	if oi.Deleted || !strings.HasPrefix(oi.Name, objectPrefix) || !strings.HasSuffix(oi.Name, objectSuffix) {
		return Info{}, false
	}
	md := oi.Metadata
	rev, err := strconv.ParseUint(md[MetaRevision], 10, 64)
	if err != nil {
		return Info{}, false
	}
	info := Info{Object: oi.Name, Revision: rev, Layout: md[MetaLayout], Node: md[MetaNode],
		Bytes: int64(oi.Size)} //nolint:gosec // object sizes fit in int64
	info.PebbleFormat, _ = strconv.ParseUint(md[MetaPebbleFormat], 10, 64)
	if t, err := time.Parse(time.RFC3339Nano, md[MetaCreatedAt]); err == nil {
		info.CreatedAt = t
	} else {
		info.CreatedAt = oi.ModTime
	}
	return info, true
}

// Compatible returns nil when this binary can open the snapshot's index,
// else an error wrapping ErrIncompatible that says why.
func (i Info) Compatible() error {
	if i.PebbleFormat > index.SupportedPebbleFormat() {
		return fmt.Errorf("%w: %s uses Pebble format %d, this binary supports up to %d; upgrade this binary",
			ErrIncompatible, i.Object, i.PebbleFormat, index.SupportedPebbleFormat())
	}
	layout, err := strconv.ParseUint(i.Layout, 10, 64)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %s has index layout %q, this binary reads %s", ErrIncompatible, i.Object, i.Layout, index.LayoutVersion)
	case layout > index.SupportedLayout():
		return fmt.Errorf("%w: %s has index layout %d, newer than this binary's %s; upgrade this binary",
			ErrIncompatible, i.Object, layout, index.LayoutVersion)
	case layout < index.OldestLayout():
		return fmt.Errorf("%w: %s has index layout %d, older than this binary's %s; replay the stream instead",
			ErrIncompatible, i.Object, layout, index.LayoutVersion)
	}
	return nil
}

// Restore downloads the newest snapshot of bucket (DefaultBucket when "")
// into dir, which must not exist or be empty, and returns it. progress,
// when set, is called as bytes arrive with the bytes read so far and the
// archive's size. Restore refuses an incompatible snapshot
// (ErrIncompatible) and an archive entry outside dir (ErrUnsafeArchive).
// The archive is unpacked next to dir and renamed into place, so dir holds
// either nothing or the whole snapshot.
func Restore(ctx context.Context, js jetstream.JetStream, bucket, dir string, progress func(done, total int64)) (Info, error) {
	info, err := Latest(ctx, js, bucket)
	if err != nil {
		return Info{}, err
	}
	return restore(ctx, js, bucket, info, dir, progress)
}

// restore is Restore of the snapshot info (a Latest answer).
func restore(ctx context.Context, js jetstream.JetStream, bucket string, info Info, dir string, progress func(done, total int64)) (Info, error) {
	if err := info.Compatible(); err != nil {
		return Info{}, err
	}
	obs, err := open(ctx, js, bucket)
	if err != nil {
		return Info{}, err
	}
	if err := checkTarget(dir); err != nil {
		return Info{}, err
	}
	res, err := obs.Get(ctx, info.Object)
	if err != nil {
		return Info{}, fmt.Errorf("snapshot: get %s: %w", info.Object, err)
	}
	defer res.Close()
	r := io.Reader(res)
	if progress != nil {
		r = &progressReader{r: res, total: info.Bytes, fn: progress}
	}
	if err := unpackInto(r, dir); err != nil {
		return Info{}, fmt.Errorf("snapshot: restore %s: %w", info.Object, err)
	}
	return info, nil
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
// it to dir once complete (and the object's digest verified).
func unpackInto(r io.Reader, dir string) error {
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
	// Read to the end: the object store verifies the digest at EOF.
	if _, err := io.Copy(io.Discard, r); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
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

// RestoreForStream restores the newest snapshot of bucket into dir (absent
// or empty) for an index that will follow stream from the snapshot's
// revision on. It fails, restoring nothing, when the stream no longer holds
// the event after the snapshot's revision (a newer snapshot is needed); it
// returns ErrNoSnapshot (wrapped) when the bucket holds none.
func RestoreForStream(ctx context.Context, js jetstream.JetStream, bucket, dir string, stream *jetstream.StreamInfo,
	progress func(done, total int64),
) (Info, error) {
	latest, err := Latest(ctx, js, bucket)
	if err != nil {
		return Info{}, err
	}
	if stream.State.Msgs > 0 && stream.State.FirstSeq > latest.Revision+1 {
		return Info{}, fmt.Errorf("snapshot: newest snapshot %s is at revision %d but the stream starts at %d: take a new snapshot on a healthy node",
			latest.Object, latest.Revision, stream.State.FirstSeq)
	}
	return restore(ctx, js, bucket, latest, dir, progress)
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

package eventlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// bucket reads a snapshot bucket (a JetStream Object Store) through
// stream calls only: the stream's info (the meta subjects it holds), the
// last message of a subject and the next message of a subject at or after
// a sequence. Those are direct gets and stream info: they create nothing
// on the server (the Object Store API's ListSnapshots and Get create consumers), so
// a reader in another account needs only two imported API subjects of the
// bucket's stream:
//
//	$JS.API.STREAM.INFO.OBJ_<bucket>
//	$JS.API.DIRECT.GET.OBJ_<bucket> and $JS.API.DIRECT.GET.OBJ_<bucket>.>
//
// (the first direct-get form, with the request in the body, reads chunks;
// the second, with the subject appended, reads an object's metadata).
type bucket struct {
	name   string
	stream jetstream.Stream
}

// openBucket finds bucket's stream; ErrNoSnapshot when there is none.
func openBucket(ctx context.Context, js jetstream.JetStream, name string) (*bucket, error) {
	if name == "" {
		name = DefaultSnapshotBucket
	}
	st, err := js.Stream(ctx, "OBJ_"+name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, fmt.Errorf("%w: no bucket %s", ErrNoSnapshot, name)
	case ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrNoResponders)):
		// Through another account's exports, a bucket that is not
		// exported does not answer.
		return nil, fmt.Errorf("%w: bucket %s does not answer (no such bucket, or not exported to this account): %w", ErrNoSnapshot, name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: bucket %s: %w", name, err)
	}
	return &bucket{name: name, stream: st}, nil
}

func (b *bucket) metaSubjects() string { return "$O." + b.name + ".M.>" }

func (b *bucket) chunkSubject(nuid string) string { return "$O." + b.name + ".C." + nuid }

// objects returns the metadata of every object of the bucket that is not
// deleted (in no particular order).
func (b *bucket) objects(ctx context.Context) ([]*jetstream.ObjectInfo, error) {
	info, err := b.stream.Info(ctx, jetstream.WithSubjectFilter(b.metaSubjects()))
	if err != nil {
		return nil, fmt.Errorf("snapshot: bucket %s: %w", b.name, err)
	}
	out := make([]*jetstream.ObjectInfo, 0, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		m, err := b.stream.GetLastMsgForSubject(ctx, subj)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("snapshot: bucket %s: read %s: %w", b.name, subj, err)
		}
		var oi jetstream.ObjectInfo
		if err := json.Unmarshal(m.Data, &oi); err != nil || oi.Deleted {
			continue // not object metadata, or a deleted object
		}
		oi.ModTime = m.Time
		out = append(out, &oi)
	}
	return out, nil
}

// errDigest: an object's bytes do not match its recorded size or digest.
var errDigest = errors.New("the object's bytes do not match its size or digest")

// read writes the object's bytes to w, chunk by chunk in order, and
// checks them against the object's size and its SHA-256 digest.
func (b *bucket) read(ctx context.Context, oi *jetstream.ObjectInfo, w io.Writer) error {
	subj := b.chunkSubject(oi.NUID)
	h := sha256.New()
	var size uint64
	seq := uint64(1)
	for n := uint32(0); n < oi.Chunks; n++ {
		m, err := b.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if err != nil {
			return fmt.Errorf("snapshot: %s: chunk %d of %d: %w", oi.Name, n+1, oi.Chunks, err)
		}
		seq = m.Sequence + 1
		size += uint64(len(m.Data))
		h.Write(m.Data)
		if _, err := w.Write(m.Data); err != nil {
			return err
		}
	}
	if size != oi.Size || !digestIs(oi.Digest, h) {
		return fmt.Errorf("snapshot: %s: %w", oi.Name, errDigest)
	}
	return nil
}

// digestIs reports whether the Object Store digest d ("SHA-256=<base64url>")
// is h's sum.
func digestIs(d string, h hash.Hash) bool {
	alg, val, ok := strings.Cut(d, "=")
	if !ok || alg != "SHA-256" {
		return false
	}
	want, err := base64.URLEncoding.DecodeString(val)
	if err != nil {
		return false
	}
	return bytes.Equal(want, h.Sum(nil))
}

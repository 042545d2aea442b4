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
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/natsext"
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
	// nc and directGet (the stream's direct-get subject under js's API
	// prefix or domain) serve batched gets (readBatch).
	nc        *nats.Conn
	directGet string
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
	return &bucket{name: name, stream: st, nc: js.Conn(), directGet: apiPrefix(js.Options()) + "DIRECT.GET.OBJ_" + name}, nil
}

// apiPrefix is the JetStream API prefix o's requests go to, ending in ".":
// its API prefix, its domain's, or the default (jetstream keeps its own
// unexported; batched gets are not in its API).
func apiPrefix(o jetstream.JetStreamOptions) string {
	switch {
	case o.APIPrefix != "":
		return strings.TrimSuffix(o.APIPrefix, ".") + "."
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	default:
		return jetstream.DefaultAPIPrefix
	}
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

// chunksPerGet is how many chunks read asks for in one batched direct get:
// 64 chunks of the Object Store's 128 KiB are 8 MiB per request, well
// inside a subscription's default pending limits, and one round trip per
// 8 MiB instead of one per chunk (at ten million users a snapshot holds
// thousands of chunks, and their round trips were most of its fetch).
const chunksPerGet = 64

// batchStall is how long a batched get waits for its next message before
// it takes the batch as not streamed (an import of the direct-get API
// whose response type is singleton passes only the first answer) and read
// goes on one chunk per get.
const batchStall = time.Second

// read writes the object's bytes to w, chunk by chunk in order, and
// checks them against the object's size and its SHA-256 digest.
//
// Chunks are fetched in batches: a direct get with "batch" and
// "next_by_subj", on the same API subject as one message's get, so under
// the same permission. Where batches are not answered in full (a server
// without them, an import that passes one answer), it goes on one by one.
func (b *bucket) read(ctx context.Context, oi *jetstream.ObjectInfo, w io.Writer) error {
	subj := b.chunkSubject(oi.NUID)
	h := sha256.New()
	var size uint64
	seq := uint64(1)
	n := uint32(0)
	take := func(data []byte, at uint64) error {
		seq = at + 1
		n++
		size += uint64(len(data))
		h.Write(data)
		_, err := w.Write(data)
		return err
	}
	batched := b.nc != nil
	for n < oi.Chunks {
		if batched {
			want := int(min(oi.Chunks-n, chunksPerGet))
			got, whole, err := b.readBatch(ctx, subj, seq, want, take)
			if err != nil {
				return fmt.Errorf("snapshot: %s: chunk %d of %d: %w", oi.Name, n+1, oi.Chunks, err)
			}
			batched = whole
			if got > 0 {
				continue
			}
		}
		m, err := b.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if err != nil {
			return fmt.Errorf("snapshot: %s: chunk %d of %d: %w", oi.Name, n+1, oi.Chunks, err)
		}
		if err := take(m.Data, m.Sequence); err != nil {
			return err
		}
	}
	if size != oi.Size || !digestIs(oi.Digest, h) {
		return fmt.Errorf("snapshot: %s: %w", oi.Name, errDigest)
	}
	return nil
}

// getBatch is the body of a batched direct get.
type getBatch struct {
	Seq     uint64 `json:"seq"`
	NextFor string `json:"next_by_subj"`
	Batch   int    `json:"batch"`
}

// readBatch asks for up to count messages of subj from sequence seq on in
// one batched direct get, and passes each, in order, to take. It returns
// how many it passed, and whether the batch came whole (every message, or
// the server's end-of-batch): when not, batches do not work here.
func (b *bucket) readBatch(ctx context.Context, subj string, seq uint64, count int, take func(data []byte, seq uint64) error) (int, bool, error) {
	req, err := json.Marshal(getBatch{Seq: seq, NextFor: subj, Batch: count})
	if err != nil {
		return 0, false, err
	}
	eob := false
	resp, err := natsext.RequestMany(ctx, b.nc, b.directGet, req,
		natsext.RequestManyStall(batchStall),
		natsext.RequestManySentinel(func(m *nats.Msg) bool {
			eob = len(m.Data) == 0 && m.Header.Get("Status") == "204"
			return eob
		}))
	if err != nil {
		return 0, false, err
	}
	got := 0
	for m, err := range resp {
		if err != nil {
			return got, false, err
		}
		if len(m.Data) == 0 && m.Header.Get("Status") != "" {
			// 404: no such message; other statuses: an error. One
			// get says which.
			return got, false, nil
		}
		at, perr := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if perr != nil || m.Header.Get(jetstream.SubjectHeader) != subj || at < seq {
			return got, false, fmt.Errorf("a batched get answered %q at %q for %s from %d",
				m.Header.Get(jetstream.SubjectHeader), m.Header.Get(jetstream.SequenceHeader), subj, seq)
		}
		if err := take(m.Data, at); err != nil {
			return got, false, err
		}
		seq = at + 1
		got++
		if m.Header.Get("Nats-Num-Pending") == "" {
			return got, false, nil // a server that answers one message per get
		}
		if got == count {
			return got, true, nil
		}
	}
	return got, eob, nil
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

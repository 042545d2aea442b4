package index

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Loading reads the namespaces' keys on one goroutine and folds them into
// the state on another (Store.load): Pebble's iteration (block reads,
// decompression, the merge of levels) runs beside the building of users'
// records, about a fifth of a load's time off its critical path on two
// cores.

// loadChunk is a run of keys and values in key order, copied out of the
// iterator: kvs holds the end offsets in buf of each key and its value.
type loadChunk struct {
	buf []byte
	kvs []loadKV
	err error // the error that ended reading, after the pairs before it
}

type loadKV struct{ kEnd, vEnd int }

// each calls fn for each pair of c, in order, until fn fails.
func (c *loadChunk) each(fn func(k, v []byte) error) error {
	start := 0
	for _, kv := range c.kvs {
		if err := fn(c.buf[start:kv.kEnd:kv.kEnd], c.buf[kv.kEnd:kv.vEnd:kv.vEnd]); err != nil {
			return err
		}
		start = kv.vEnd
	}
	return nil
}

// loadChunkBytes is the size a chunk is sent at.
const loadChunkBytes = 256 << 10

// readForLoad iterates iter (the namespaces' keys), skipping what the
// state does not hold (each namespace's members and roles: roles are
// read first, separately), and sends the rest in chunks on out, in key
// order; it closes out when done, and stops early when stop closes.
// Chunks come back on free to be filled again.
func readForLoad(iter *pebble.Iterator, out chan<- *loadChunk, free chan *loadChunk, stop <-chan struct{}) {
	defer close(out)
	next := func() *loadChunk {
		select {
		case c := <-free:
			c.buf, c.kvs, c.err = c.buf[:0], c.kvs[:0], nil
			return c
		default:
			return &loadChunk{buf: make([]byte, 0, loadChunkBytes+4<<10)}
		}
	}
	send := func(c *loadChunk) bool {
		select {
		case out <- c:
			return true
		case <-stop:
			return false
		}
	}
	c := next()
	for valid := iter.First(); valid; {
		k := iter.Key()
		if _, _, _, ok := splitAssignmentKey(k); !ok {
			pk, err := parseKey(k)
			if err != nil {
				c.err = fmt.Errorf("index: load key %q: %w", k, err)
				send(c)
				return
			}
			if pk.kind == kindMember || pk.kind == kindRole {
				// The reverse index is not held in memory, and roles
				// were read first: skip the namespace's.
				valid = iter.SeekGE(prefixEnd(kindPrefix(pk.ns, pk.kind)))
				continue
			}
		}
		c.buf = append(c.buf, k...)
		kEnd := len(c.buf)
		c.buf = append(c.buf, iter.Value()...)
		c.kvs = append(c.kvs, loadKV{kEnd, len(c.buf)})
		if len(c.buf) >= loadChunkBytes {
			if !send(c) {
				return
			}
			c = next()
		}
		valid = iter.Next()
	}
	if err := iter.Error(); err != nil {
		c.err = fmt.Errorf("index: load: %w", err)
	}
	send(c)
}

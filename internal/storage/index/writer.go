package index

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/grantlog/grantlog/events"
)

// writer is the batch Apply writes through. Most batches are only written:
// their writes are then buffered and added to a plain batch in key order,
// which Pebble inserts into its memtable much faster than the scattered
// order events come in (the memtable's skiplist starts each search from the
// previous insert). A batch that must read its own writes (role and
// namespace deletion walk the keys they delete) is an indexed batch written
// straight through.
type writer struct {
	b       *pebble.Batch
	indexed bool
	arena   []byte
	ops     []pendingOp
}

// pendingOp is a buffered write: key arena[off:off+klen], then the value.
type pendingOp struct {
	off, klen, vlen int
	del             bool
}

var errNotIndexed = errors.New("index: batch is not indexed")

// reset starts a batch for evs.
func (w *writer) reset(db *pebble.DB, evs []events.Event, after uint64) {
	w.indexed = readsOwnWrites(evs, after)
	if w.indexed {
		w.b = db.NewIndexedBatch()
	} else {
		w.b = db.NewBatch()
	}
	w.arena, w.ops = w.arena[:0], w.ops[:0]
}

// readsOwnWrites reports whether any event after revision after reads the
// batch it is applied in.
func readsOwnWrites(evs []events.Event, after uint64) bool {
	for i := range evs {
		if evs[i].Revision <= after {
			continue
		}
		switch evs[i].Data.(type) {
		case events.RoleDeleted, events.NamespaceDeleted:
			return true
		}
	}
	return false
}

// Set sets k to v (both may be reused when it returns).
func (w *writer) Set(k, v []byte, _ *pebble.WriteOptions) error {
	if w.indexed {
		return w.b.Set(k, v, nil)
	}
	off := len(w.arena)
	w.arena = append(append(w.arena, k...), v...)
	w.ops = append(w.ops, pendingOp{off: off, klen: len(k), vlen: len(v)})
	return nil
}

// Delete deletes k (which may be reused when it returns).
func (w *writer) Delete(k []byte, _ *pebble.WriteOptions) error {
	if w.indexed {
		return w.b.Delete(k, nil)
	}
	off := len(w.arena)
	w.arena = append(w.arena, k...)
	w.ops = append(w.ops, pendingOp{off: off, klen: len(k), del: true})
	return nil
}

// NewIter reads the batch (and the database under it); indexed batches only.
func (w *writer) NewIter(o *pebble.IterOptions) (*pebble.Iterator, error) {
	if !w.indexed {
		return nil, errNotIndexed
	}
	return w.b.NewIter(o)
}

func (w *writer) key(op pendingOp) []byte { return w.arena[op.off : op.off+op.klen] }

// commit adds the buffered writes in key order (writes of one key keep
// their order, so the last wins) and commits the batch.
func (w *writer) commit() error {
	slices.SortFunc(w.ops, func(x, y pendingOp) int {
		if c := bytes.Compare(w.key(x), w.key(y)); c != 0 {
			return c
		}
		return cmp.Compare(x.off, y.off) // the order they were written in
	})
	for _, op := range w.ops {
		var err error
		if op.del {
			err = w.b.Delete(w.key(op), nil)
		} else {
			err = w.b.Set(w.key(op), w.arena[op.off+op.klen:op.off+op.klen+op.vlen], nil)
		}
		if err != nil {
			return fmt.Errorf("index: batch: %w", err)
		}
	}
	// NoSync: the stream is the durable truth. A crash loses a suffix of
	// whole batches, and the projector resumes from the applied revision.
	if err := w.b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("index: commit: %w", err)
	}
	return nil
}

// close releases the batch and, after a very large one, the buffers.
func (w *writer) close() {
	_ = w.b.Close()
	w.b = nil
	if cap(w.arena) > 16<<20 {
		w.arena, w.ops = nil, nil
	}
}

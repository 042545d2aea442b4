package index

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Export calls fn with every key and value of the namespace-keyed index (not
// the store's metadata), in key order. With ns non-empty, only that
// namespace's keys.
func (s *Store) Export(ns string, fn func(key, value []byte) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	lower, upper := []byte("n/"), []byte("n0")
	if ns != "" {
		lower = nsPrefix(ns)
		upper = prefixEnd(lower)
	}
	iter, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("index: export: %w", err)
	}
	defer iter.Close()
	for iter.First(); iter.Valid(); iter.Next() {
		if err := fn(iter.Key(), iter.Value()); err != nil {
			return err
		}
	}
	return iter.Error()
}

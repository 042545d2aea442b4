package index

import (
	"context"
)

// Applied returns the revision of the last applied event.
func (s *Store) Applied() uint64 { return s.applied.Load() }

// Changed returns a channel closed at the next change of the applied revision.
func (s *Store) Changed() <-chan struct{} {
	s.notify.Lock()
	defer s.notify.Unlock()
	return s.notify.ch
}

func (s *Store) broadcast() {
	s.notify.Lock()
	close(s.notify.ch)
	s.notify.ch = make(chan struct{})
	s.notify.Unlock()
}

// WaitApplied blocks until the store has applied revision rev or ctx ends,
// returning ctx's error in the latter case.
func (s *Store) WaitApplied(ctx context.Context, rev uint64) error {
	for {
		ch := s.Changed()
		if s.applied.Load() >= rev {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

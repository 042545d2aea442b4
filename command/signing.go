package command

import (
	"context"
	"errors"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/storage/logsig"
)

// ErrForeignKey is returned by AnnounceSigningKey when the event log already
// trusts signing keys, but not this node's: its events would all be
// refused. Restore the key bucket (logsig.DefaultBucket) the log's key came
// from.
var ErrForeignKey = errors.New("command: the event log is signed by another key than this node's")

var errAnnounced = errors.New("already announced")

// AnnounceSigningKey appends the announcement (events.LogSigningKeyAdded,
// signed by the key itself) of Config.Signer unless the stream has it. On a
// stream that has no key yet, it becomes the stream's trust anchor: every
// event after it must be signed. It fails with ErrForeignKey when the log
// trusts other keys only. The caller must be the service itself (root).
func (s *Service) AnnounceSigningKey(ctx context.Context, m Meta) (rev uint64, appended bool, err error) {
	key := s.cfg.Signer
	switch {
	case key == nil:
		return 0, false, errors.New("command: no signing key configured")
	case !m.Caller.Root:
		return 0, false, errorf(ErrForbidden, "forbidden", "only the service announces its signing key")
	}
	if err := validateMeta(&m); err != nil {
		return 0, false, err
	}
	rev, err = s.execute(ctx, events.PlatformNamespace, &m, req("AnnounceSigningKey", key.ID()), func(v index.View) (decision, error) {
		trusted, anyKey, err := v.SigningKey(key.ID())
		switch {
		case err != nil:
			return decision{}, err
		case trusted:
			return decision{}, errAnnounced
		case anyKey:
			return decision{}, ErrForeignKey
		}
		return decision{kind: events.KindLog, aggregateID: key.ID(), payload: events.LogSigningKeyAdded{
			KeyID: key.ID(), Algorithm: logsig.Algorithm, PublicKey: key.PublicString()}}, nil
	})
	if errors.Is(err, errAnnounced) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return rev, true, nil
}

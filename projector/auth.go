package projector

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/storage/logsig"
)

// Authentication of the event stream.
//
// Only command nodes hold the log signing key (package logsig). From the
// stream's first events.LogSigningKeyAdded event on, a message is applied
// only when
//   - its Grantlog-Sig header verifies, over its subject and the SHA-256 of
//     its bytes, against a key announced by an earlier accepted key event,
//   - its envelope's namespace is its subject's, and
//   - its prevHash is the hash of the last event applied in its namespace.
//
// The last rule refuses a verbatim replay of a signed message (its
// prevHash names an older link of the chain) and any reordering. Anything
// else is refused: recorded as applied with an index.Refused payload (the
// index moves past it, the namespace's chain does not), logged at error
// level and counted (Projector.Refused).
//
// Trust anchor: the first key event of a stream is trusted on first use; it
// must be signed by the key it announces. Later key events must be signed
// by a key already trusted. Messages before the first key event (streams
// written before events were signed) are applied as before, unsigned,
// except that an unknown type there is refused rather than fatal.
//
// An authenticated event of an unknown type (written by a newer binary)
// halts the projector before it (see Run).
//
// Cost: checking a signature takes ~50µs, so a batch is authenticated from
// its end: the newest event of each namespace in the batch is verified, and
// an event whose hash a verified later event names as its prevHash is
// authentic by that link (the command side only chains onto events it
// accepted). During a replay that is about one verification per namespace
// per batch; live events, one per event.

// msgMeta is what admit needs of a message besides its decoded event.
type msgMeta struct {
	subject   string
	sig       string
	unknown   bool  // the event's type is unknown (the envelope is decoded)
	malformed error // the message is not an event at all
	authErr   error // set by admit
	verified  bool  // authErr is the result of verifying the signature
}

// haltError stops reading at an authenticated event of an unknown type.
type haltError struct{ halt Halt }

func (h *haltError) Error() string { return h.halt.Reason }

func (h *haltError) Unwrap() error { return ErrUnknownEvent }

// authenticator is the reader's authentication state for one run: the
// trusted keys and the chain head of each namespace as of the last event
// admitted (ahead of the index, which applies what admit returned later).
type authenticator struct {
	p      *Projector
	stream jetstream.Stream
	keys   logsig.Keys
	chain  map[string][32]byte // namespace → hash of its last accepted event (zero: none)
	vouch  map[[32]byte]struct{}
	need   []int // scratch of authenticate
}

func (p *Projector) newAuth(stream jetstream.Stream) (*authenticator, error) {
	keys, err := p.index.SigningKeys()
	if err != nil {
		return nil, err
	}
	return &authenticator{p: p, stream: stream, keys: keys, chain: map[string][32]byte{}, vouch: map[[32]byte]struct{}{}}, nil
}

// head returns the chain head of ns: the hash of the last event accepted in
// it (zero when none). ok is false when it cannot be known.
func (a *authenticator) head(ctx context.Context, ns string) (h [32]byte, ok bool) {
	if h, ok := a.chain[ns]; ok {
		return h, true
	}
	hx, rev, err := a.p.index.ChainHead(ns)
	switch {
	case errors.Is(err, index.ErrChainUnknown):
		// An index written before hashes were recorded: the namespace's
		// last event (all of whose events were accepted then) is in the
		// stream.
		msg, gerr := a.stream.GetMsg(ctx, rev)
		if gerr != nil {
			a.p.cfg.Logger.Warn("projector: cannot read the namespace's last event to continue its hash chain",
				"namespace", ns, "revision", rev, "err", gerr)
			return h, false
		}
		h = sha256.Sum256(msg.Data)
	case err != nil:
		return h, false
	case hx != "":
		if _, err := hex.Decode(h[:], []byte(hx)); err != nil {
			return h, false
		}
	}
	a.chain[ns] = h
	return h, true
}

// prevHashIs reports whether the envelope's prevHash names h (zero: "").
func prevHashIs(prev string, h [32]byte) bool {
	if prev == "" {
		return h == [32]byte{}
	}
	var got [32]byte
	if len(prev) != 64 {
		return false
	}
	if _, err := hex.Decode(got[:], []byte(prev)); err != nil {
		return false
	}
	return got == h
}

// admit authenticates a batch (evs and their metadata, in stream order) and
// returns the events to apply: accepted ones as they are, refused ones
// turned into index.Refused records. A key event is always the batch's
// last. halt is set when the batch holds an authenticated event of an
// unknown type: the events returned are those before it.
func (a *authenticator) admit(ctx context.Context, evs []events.Event, meta []msgMeta) ([]events.Event, *haltError) {
	if len(a.keys) > 0 {
		a.authenticate(evs, meta)
	}
	for i := range evs {
		ev, m := &evs[i], &meta[i]
		if len(a.keys) == 0 {
			a.admitLegacy(ctx, ev, m)
			continue
		}
		subjNS := namespaceOf(a.p.cfg.SubjectPrefix, m.subject)
		switch {
		case m.authErr != nil:
			a.refuse(ctx, ev, subjNS, m.authErr.Error())
			continue
		case m.malformed != nil:
			a.refuse(ctx, ev, subjNS, "signed, but not an event: "+m.malformed.Error())
			continue
		case ev.Namespace != subjNS:
			a.refuse(ctx, ev, subjNS, fmt.Sprintf("the event's namespace %q is not its subject's (%s)", ev.Namespace, m.subject))
			continue
		}
		h, ok := a.head(ctx, ev.Namespace)
		if ok && !prevHashIs(ev.PrevHash, h) {
			a.refuse(ctx, ev, subjNS, fmt.Sprintf("prevHash %q is not the hash of the last event applied in namespace %s (%s): a replayed or reordered message",
				ev.PrevHash, ev.Namespace, hexOrNone(h)))
			continue
		}
		if m.unknown {
			return evs[:i], &haltError{Halt{Revision: ev.Revision, Type: ev.Type,
				Reason: fmt.Sprintf("the event at revision %d has type %q, which this binary does not know (a newer Grantlog wrote it): upgrade this node",
					ev.Revision, ev.Type)}}
		}
		if k, isKey := ev.Data.(events.LogSigningKeyAdded); isKey {
			pub, err := logsig.ParsePublic(k.KeyID, k.Algorithm, k.PublicKey)
			if err != nil {
				a.refuse(ctx, ev, subjNS, err.Error())
				continue
			}
			a.keys[k.KeyID] = pub
		}
		a.chain[ev.Namespace] = ev.Hash
	}
	return evs, nil
}

// admitLegacy admits an event of a stream that has no signing key yet.
func (a *authenticator) admitLegacy(ctx context.Context, ev *events.Event, m *msgMeta) {
	subjNS := namespaceOf(a.p.cfg.SubjectPrefix, m.subject)
	switch {
	case m.unknown:
		a.refuse(ctx, ev, subjNS, fmt.Sprintf("unknown event type %q on a stream without a signing key", ev.Type))
		return
	case m.malformed != nil:
		// No version of Grantlog can read it: recorded as applied (so the
		// index moves on), changing nothing.
		a.p.cfg.Logger.Error("projector: skipping undecodable event", "revision", ev.Revision, "subject", m.subject, "err", m.malformed)
		a.chain[ev.Namespace] = ev.Hash
		return
	}
	if k, isKey := ev.Data.(events.LogSigningKeyAdded); isKey {
		// The first signing key: trusted on first use, if it signed its
		// own announcement.
		pub, err := logsig.ParsePublic(k.KeyID, k.Algorithm, k.PublicKey)
		if err == nil {
			err = logsig.Keys{k.KeyID: pub}.VerifyEvent(m.subject, ev.Hash, m.sig)
		}
		if err == nil && ev.Namespace != subjNS {
			err = fmt.Errorf("the event's namespace %q is not its subject's (%s)", ev.Namespace, m.subject)
		}
		if err != nil {
			a.refuse(ctx, ev, subjNS, "first signing key not signed by itself: "+err.Error())
			return
		}
		a.keys[k.KeyID] = pub
		a.p.cfg.Logger.Info("projector: the event log is signed from here on", "revision", ev.Revision, "keyId", k.KeyID)
	}
	a.chain[ev.Namespace] = ev.Hash
}

// authenticate sets meta[i].authErr for every event of the batch. An event
// named as prevHash by an authentic later event is authentic: so first,
// assuming every event authentic, it finds the events no later event
// names (about one per namespace in the batch) and verifies those, in
// parallel. When all verify, the rest are authentic by their links; when
// one does not (a forged or replayed message), it walks the batch from
// the newest back, vouching only through events found authentic.
func (a *authenticator) authenticate(evs []events.Event, meta []msgMeta) {
	clear(a.vouch)
	need := a.need[:0]
	for i := len(evs) - 1; i >= 0; i-- {
		if _, ok := a.vouch[evs[i].Hash]; !ok {
			need = append(need, i)
		}
		a.addVouch(&evs[i])
	}
	a.need = need
	a.verifyAll(evs, meta, need)
	failed := false
	for _, i := range need {
		failed = failed || meta[i].authErr != nil
	}
	if !failed {
		for i := range meta {
			if !meta[i].verified {
				meta[i].authErr = nil
			}
		}
		return
	}
	clear(a.vouch)
	for i := len(evs) - 1; i >= 0; i-- {
		ev, m := &evs[i], &meta[i]
		switch _, ok := a.vouch[ev.Hash]; {
		case ok:
			m.authErr = nil
		case !m.verified:
			m.authErr = a.verify(m.subject, ev.Hash, m.sig)
		}
		if m.authErr == nil {
			a.addVouch(ev)
		}
	}
}

// verify checks an event's signature against the trusted keys, unless
// this process signed exactly that event with a trusted key.
func (a *authenticator) verify(subject string, hash [32]byte, sig string) error {
	if a.p.cfg.Signed != nil && a.p.cfg.Signed.Vouches(a.keys, subject, hash, sig) {
		return nil
	}
	return a.keys.VerifyEvent(subject, hash, sig)
}

// addVouch records that ev vouches for the event its prevHash names.
func (a *authenticator) addVouch(ev *events.Event) {
	var prev [32]byte
	if len(ev.PrevHash) != 64 {
		return
	}
	if _, err := hex.Decode(prev[:], []byte(ev.PrevHash)); err == nil {
		a.vouch[prev] = struct{}{}
	}
}

// verifyAll verifies the signatures of the events at indexes idx, on up to
// GOMAXPROCS goroutines.
func (a *authenticator) verifyAll(evs []events.Event, meta []msgMeta, idx []int) {
	verify := func(part []int) {
		for _, i := range part {
			meta[i].authErr = a.verify(meta[i].subject, evs[i].Hash, meta[i].sig)
			meta[i].verified = true
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(idx)/4)
	if workers <= 1 {
		verify(idx)
		return
	}
	var wg sync.WaitGroup
	per := (len(idx) + workers - 1) / workers
	for lo := 0; lo < len(idx); lo += per {
		part := idx[lo:min(lo+per, len(idx))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			verify(part)
		}()
	}
	wg.Wait()
}

// refuse turns ev into a refused record of namespace ns (its subject's):
// it keeps the namespace's chain head as it is.
func (a *authenticator) refuse(ctx context.Context, ev *events.Event, ns, reason string) {
	typ := ev.Type
	h, ok := a.head(ctx, ns)
	if !ok || ns == "" {
		ns = "" // only the applied revision moves
	}
	*ev = events.Event{Envelope: events.Envelope{Namespace: ns, Type: typ}, Revision: ev.Revision, Hash: h,
		Data: index.Refused{Reason: reason}}
}

func hexOrNone(h [32]byte) string {
	if h == [32]byte{} {
		return `"" (the namespace has no event)`
	}
	return hex.EncodeToString(h[:])
}

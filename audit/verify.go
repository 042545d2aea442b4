package audit

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/logsig"
)

// Break is a record that fails verification: a broken link of a
// namespace's hash chain (the record at Revision names Found as the hash
// of the namespace's previous event, but that event hashes to Expected, ""
// when there is no previous event), or, once the log has a signing key, a
// record whose signature is missing or does not verify (Reason says which).
type Break struct {
	Revision  uint64 `json:"revision"`
	Namespace string `json:"namespace"`
	Expected  string `json:"expected"`
	Found     string `json:"found"`
	// Reason, when set, says why the record is not authentic (its
	// signature); empty for a broken link.
	Reason string `json:"reason,omitempty"`
}

func (b *Break) Error() string {
	if b.Reason != "" {
		return fmt.Sprintf("audit: the event at revision %d (namespace %s) was not written by the command side: %s",
			b.Revision, b.Namespace, b.Reason)
	}
	exp := b.Expected
	if exp == "" {
		exp = `"" (the namespace's first event)`
	}
	found := b.Found
	if found == "" {
		found = `""`
	}
	return fmt.Sprintf("audit: hash chain of namespace %s broken at revision %d: prevHash is %s, expected %s",
		b.Namespace, b.Revision, found, exp)
}

// Verifier checks the per-namespace hash chains of records fed to it in
// revision order, and, from the log's first signing key on, their
// signatures. Feed it every record of each namespace it checks, from the
// namespace's first (unfiltered by type), and the log's signing key
// records (all of namespace _platform, or those given to PreloadKeys). A
// Verifier is not safe for concurrent use.
//
// The chain proves that no event of a namespace was altered or inserted
// before the namespace's last event: an altered event no longer hashes to
// the next event's prevHash, and an inserted one either names the wrong
// prevHash or is named by nobody. It does not prove that nothing was
// appended after the last event: anchor the last hash elsewhere for that.
// The signatures prove that the command side wrote each event after the
// first key (trusted on first use, as by every node): a forged event with
// a correct prevHash fails, and a verbatim copy of a signed event breaks
// its chain.
type Verifier struct {
	last    map[string]string
	keys    logsig.Keys
	pending []Record // preloaded key records not yet reached
	keyRevs map[uint64]bool
	records int
}

// NewVerifier returns a Verifier that has seen nothing.
func NewVerifier() *Verifier {
	return &Verifier{last: map[string]string{}, keys: logsig.Keys{}, keyRevs: map[uint64]bool{}}
}

// PreloadKeys gives the verifier the log's signing key records (type
// events.TypeLogSigningKeyAdded), for verifying namespaces other than
// _platform alone: each takes effect from its revision on, as if it had
// been fed in order.
func (v *Verifier) PreloadKeys(keys []Record) {
	v.pending = append(v.pending, keys...)
	sort.Slice(v.pending, func(i, j int) bool { return v.pending[i].Revision < v.pending[j].Revision })
}

// Signed reports whether the verifier has seen the log's first signing key
// (from then on it checks signatures).
func (v *Verifier) Signed() bool { return len(v.keys) > 0 }

// Add checks r and returns what fails, or nil. A record that is not
// authentic, or (once the log is signed) that breaks its chain, is left
// out of the chain, as nodes refuse to apply it; before the log's first
// key, the chain continues from a record that breaks it.
func (v *Verifier) Add(r Record) *Break {
	for len(v.pending) > 0 && v.pending[0].Revision < r.Revision {
		k := v.pending[0]
		v.pending = v.pending[1:]
		if !v.keyRevs[k.Revision] {
			_ = v.authenticate(k)
		}
	}
	v.records++
	if v.keyRevs[r.Revision] {
		// A preloaded key record fed again: already checked.
		v.last[r.Namespace] = r.Hash
		return nil
	}
	if reason := v.authenticate(r); reason != "" {
		return &Break{Revision: r.Revision, Namespace: r.Namespace, Expected: v.last[r.Namespace], Found: r.PrevHash, Reason: reason}
	}
	expected := v.last[r.Namespace]
	if r.PrevHash != expected {
		if !v.Signed() {
			// Before the log was signed (streams older than the chain
			// break at every event): the chain continues from r.
			v.last[r.Namespace] = r.Hash
		}
		return &Break{Revision: r.Revision, Namespace: r.Namespace, Expected: expected, Found: r.PrevHash}
	}
	v.last[r.Namespace] = r.Hash
	return nil
}

// authenticate checks r's signature (once the log has a key) and learns
// the key a key record announces. It returns why r is not authentic, or "".
func (v *Verifier) authenticate(r Record) string {
	isKey := r.Type == events.TypeLogSigningKeyAdded
	var hash [32]byte
	if _, err := hex.Decode(hash[:], []byte(r.Hash)); err != nil || len(r.Hash) != 64 {
		return "malformed record hash"
	}
	if !isKey && len(v.keys) == 0 {
		return "" // before the log's first key: unsigned events are the log's
	}
	if r.Subject == "" {
		return "the record has no subject (a Grantlog before signatures served it): cannot check its signature"
	}
	if !isKey {
		if err := v.keys.VerifyEvent(r.Subject, hash, r.Signature); err != nil {
			return err.Error()
		}
		return ""
	}
	var p events.LogSigningKeyAdded
	if err := json.Unmarshal(r.Payload, &p); err != nil {
		return "malformed signing key record: " + err.Error()
	}
	pub, err := logsig.ParsePublic(p.KeyID, p.Algorithm, p.PublicKey)
	if err != nil {
		return err.Error()
	}
	trust := v.keys
	if len(trust) == 0 {
		trust = logsig.Keys{p.KeyID: pub} // the first key: signed by itself
	}
	if err := trust.VerifyEvent(r.Subject, hash, r.Signature); err != nil {
		return "signing key announcement: " + err.Error()
	}
	v.keys[p.KeyID] = pub
	v.keyRevs[r.Revision] = true
	return ""
}

// Records is how many records were checked.
func (v *Verifier) Records() int { return v.records }

// Namespaces is how many namespaces were seen.
func (v *Verifier) Namespaces() int { return len(v.last) }

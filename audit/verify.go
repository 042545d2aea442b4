package audit

import "fmt"

// Break is a broken link of a namespace's hash chain: the record at
// Revision names Found as the hash of the namespace's previous event, but
// that event hashes to Expected ("" when there is no previous event).
type Break struct {
	Revision  uint64 `json:"revision"`
	Namespace string `json:"namespace"`
	Expected  string `json:"expected"`
	Found     string `json:"found"`
}

func (b *Break) Error() string {
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
// revision order. Feed it every record of each namespace it checks, from
// the namespace's first (unfiltered by type). A Verifier is not safe for
// concurrent use.
//
// The chain proves that no event of a namespace was altered or inserted
// before the namespace's last event: an altered event no longer hashes to
// the next event's prevHash, and an inserted one either names the wrong
// prevHash or is named by nobody. It does not prove that nothing was
// appended after the last event: anchor the last hash elsewhere for that.
type Verifier struct {
	last    map[string]string
	records int
}

// NewVerifier returns a Verifier that has seen nothing.
func NewVerifier() *Verifier { return &Verifier{last: map[string]string{}} }

// Add checks r against the namespace's previous record and returns the
// broken link, or nil. After a break the chain continues from r.
func (v *Verifier) Add(r Record) *Break {
	v.records++
	expected := v.last[r.Namespace]
	v.last[r.Namespace] = r.Hash
	if r.PrevHash != expected {
		return &Break{Revision: r.Revision, Namespace: r.Namespace, Expected: expected, Found: r.PrevHash}
	}
	return nil
}

// Records is how many records were checked.
func (v *Verifier) Records() int { return v.records }

// Namespaces is how many namespaces were seen.
func (v *Verifier) Namespaces() int { return len(v.last) }

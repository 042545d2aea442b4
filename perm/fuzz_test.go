package perm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/grantlog/grantlog/perm"
)

// checkTagError asserts the invariants of a rejected tag.
func checkTagError(t *testing.T, tag string, err error) {
	t.Helper()
	if !errors.Is(err, perm.ErrInvalidTag) {
		t.Fatalf("error %v does not wrap ErrInvalidTag", err)
	}
	var te *perm.TagError
	if !errors.As(err, &te) {
		t.Fatalf("error %v is not a *TagError", err)
	}
	if te.Tag != tag || te.Pos < -1 || te.Pos > len(tag) || te.Reason == "" {
		t.Fatalf("bad TagError %+v for %q", te, tag)
	}
}

func FuzzCanonicalTag(f *testing.F) {
	for _, c := range loadTagCases(f) {
		f.Add(c.input)
	}
	for _, c := range loadMatchCases(f) {
		f.Add(c.granted.Resource)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := perm.CanonicalTag(s)
		if err != nil {
			checkTagError(t, s, err)
			return
		}
		if len(c) > perm.MaxTagBytes || strings.Count(c, ":")+1 > perm.MaxSegments {
			t.Fatalf("canonical %q exceeds the limits", c)
		}
		if len(c) != len(s) || !strings.EqualFold(c, s) {
			t.Fatalf("canonical %q differs from %q by more than placeholder case", c, s)
		}
		again, err := perm.CanonicalTag(c)
		if err != nil || again != c {
			t.Fatalf("canonical %q re-parses to %q, %v", c, again, err)
		}
		if _, err := perm.ParseRequired(s, perm.Read, perm.RequiredBinding{Namespace: "ns", UserID: "u"}); err != nil {
			t.Fatalf("ParseRequired rejects valid tag %q: %v", s, err)
		}
	})
}

func FuzzParseRequired(f *testing.F) {
	for _, c := range loadMatchCases(f) {
		f.Add(c.required, uint8(c.requiredAct), "foo", "888")
		f.Add(c.granted.Resource, uint8(c.granted.Action), strings.Join(c.binding.Namespaces, ","), c.binding.UserID)
	}
	for _, c := range loadTagCases(f) {
		f.Add(c.input, uint8(perm.Read), "", "")
	}
	f.Fuzz(func(t *testing.T, resource string, action uint8, ns, uid string) {
		r, err := perm.ParseRequired(resource, perm.Action(action), perm.RequiredBinding{Namespace: ns, UserID: uid})
		// Unbound, ParseRequired rejects exactly the tags CanonicalTag
		// rejects, with the same error (its one-pass literal scan must not
		// change which problem is reported).
		_, cerr := perm.CanonicalTag(resource)
		_, uerr := perm.ParseRequired(resource, perm.Read, perm.RequiredBinding{Unbound: true})
		if (cerr == nil) != (uerr == nil) || cerr != nil && cerr.Error() != uerr.Error() {
			t.Fatalf("tag %q: CanonicalTag says %v, unbound ParseRequired %v", resource, cerr, uerr)
		}
		// Parse into a used Required gives what ParseRequired gives.
		reused, _ := perm.ParseRequired("A:NAMESPACE:s1:D:E:F:G", perm.CRUD, perm.RequiredBinding{Parent: func(string) string { return "s" }})
		rerr := reused.Parse(resource, perm.Action(action), perm.RequiredBinding{Namespace: ns, UserID: uid})
		if (err == nil) != (rerr == nil) || err == nil && (reused.String() != r.String() || reused.Action() != r.Action()) {
			t.Fatalf("tag %q: Parse into a used Required gives %q %v, ParseRequired %q %v", resource, reused.String(), rerr, r.String(), err)
		}
		if err != nil {
			if !errors.Is(err, perm.ErrInvalidAction) {
				checkTagError(t, resource, err)
			}
			return
		}
		if !r.Action().Valid() || r.Action() != perm.Action(action) {
			t.Fatalf("accepted action %d", action)
		}
		if _, err := perm.CanonicalTag(resource); err != nil {
			t.Fatalf("ParseRequired accepts %q but CanonicalTag rejects it: %v", resource, err)
		}
		bound := r.String()
		if strings.Count(bound, ":")+1 > perm.MaxSegments {
			t.Fatalf("bound tag %q has too many segments", bound)
		}
		// The bound tag is concrete: it re-parses to itself without a binding...
		r2, err := perm.ParseRequired(bound, r.Action(), perm.RequiredBinding{})
		if len(bound) <= perm.MaxTagBytes && (err != nil || r2.String() != bound) {
			t.Fatalf("bound %q re-parses to %q, %v", bound, r2.String(), err)
		}
		// ...and, as a grant, covers itself.
		g, err := perm.CompileGrant(perm.Permission{Resource: bound, Action: r.Action()})
		if len(bound) <= perm.MaxTagBytes && (err != nil || !g.Covers(&r, nil)) {
			t.Fatalf("grant %q does not cover itself: %v", bound, err)
		}
	})
}

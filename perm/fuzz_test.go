package perm_test

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

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

// FuzzConstraintRange: a range constraint allows an attribute only when the
// attribute is a number inside the range, whatever string it is given as
// (never by comparing strings), and a string attribute that reads as a
// number is answered as that number.
func FuzzConstraintRange(f *testing.F) {
	f.Add("150", 100.0, 200.0)
	f.Add("1500", 100.0, 200.0)
	f.Add("2", 100.0, 200.0)
	f.Add("1a", 100.0, 200.0)
	f.Add("-1.5e2", -200.0, 0.0)
	f.Add("0x96", 100.0, 200.0)
	f.Add(" 150", 100.0, 200.0)
	f.Add("Inf", 0.0, 1e308)
	f.Add("1e400", 0.0, 1e308)
	for _, c := range loadConstraintCases(f) {
		var s string
		if json.Unmarshal([]byte(c.attr), &s) == nil {
			f.Add(s, 100.0, 200.0)
		}
	}
	r, err := perm.ParseRequired("X", perm.Read, perm.RequiredBinding{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string, lo, hi float64) {
		if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || lo > hi {
			return
		}
		lov, hiv := perm.Num(lo), perm.Num(hi)
		g, err := perm.CompileGrant(perm.Permission{Resource: "X", Action: perm.Read,
			Constraints: perm.Constraints{"id": {Gte: &lov, Lte: &hiv}}})
		if err != nil {
			t.Fatalf("range [%v, %v] refused: %v", lo, hi, err)
		}
		allows := func(v perm.Value) bool {
			a := perm.NewAttributes(map[string]perm.Value{"id": v})
			return g.Allows(&r, nil, &perm.Context{Now: time.Unix(0, 0), Attrs: &a})
		}
		got := allows(perm.Str(s))
		// Decoded from JSON, the attribute is answered the same.
		raw, _ := json.Marshal(s)
		var dv perm.Value
		if err := json.Unmarshal(raw, &dv); err == nil && allows(dv) != got {
			t.Fatalf("%q: decoded from JSON %s answers %v, Str %v", s, raw, !got, got)
		}
		n, perr := strconv.ParseFloat(s, 64)
		if got && (perr != nil || n < lo || n > hi) {
			t.Fatalf("%q allowed by [%v, %v] but it is not a number in the range (%v, %v)", s, lo, hi, n, perr)
		}
		if perr == nil && isPlainDecimal(s) && got != allows(perm.Num(n)) {
			t.Fatalf("%q answers %v, its number %v answers %v", s, got, n, !got)
		}
	})
}

// isPlainDecimal reports whether s is [-]digits[.digits][e[+-]digits],
// at most 64 bytes: the strings that read as numbers.
func isPlainDecimal(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	s = strings.TrimPrefix(s, "-")
	mant, exp, hasExp := strings.Cut(strings.ToLower(s), "e")
	ip, fp, hasFrac := strings.Cut(mant, ".")
	digits := func(x string) bool {
		return x != "" && strings.Trim(x, "0123456789") == ""
	}
	if !digits(ip) || hasFrac && !digits(fp) {
		return false
	}
	if hasExp {
		exp = strings.TrimLeft(exp, "+-")
		if !digits(exp) || strings.ContainsAny(exp, "e") {
			return false
		}
	}
	return true
}

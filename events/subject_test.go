package events_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/grantlog/grantlog/events"
)

func TestSubject(t *testing.T) {
	tests := []struct {
		prefix, ns, kind string
		want             string
	}{
		{events.DefaultSubjectPrefix, "foo", events.KindUser, "grantlog.ev.foo.user._"},
		{events.DefaultSubjectPrefix, events.PlatformNamespace, events.KindRole, "grantlog.ev._platform.role._"},
		{"acme.ev", "studio1-game1", events.KindNamespace, "acme.ev.studio1-game1.ns._"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			got := events.Subject(tc.prefix, tc.ns, tc.kind)
			assert.Equal(t, tc.want, got)
			// Namespace is the second token after the prefix, so the
			// namespace filter matches the subject; the kind filter
			// matches it too.
			for _, filter := range []string{events.NamespaceFilter(tc.prefix, tc.ns), events.KindFilter(tc.prefix, tc.ns, tc.kind), events.AllFilter(tc.prefix)} {
				assert.True(t, strings.HasPrefix(got, strings.TrimSuffix(filter, ">")), "%s does not match %s", got, filter)
			}
		})
	}
}

// TestSubjectsPerNamespace: however many aggregates a namespace's events
// are about, they share one subject per kind, so the stream's check of the
// namespace expectation walks a handful of subjects. With the earlier
// layout (one subject per aggregate) a namespace of n users had n
// subjects, and the check cost grew with n.
func TestSubjectsPerNamespace(t *testing.T) {
	kinds := []string{events.KindRole, events.KindUser, events.KindNamespace, events.KindClient,
		events.KindToken, events.KindScope, events.KindEndpoint, events.KindTx, events.KindLog}
	subjects := map[string]bool{}
	for i := range 10000 {
		subjects[events.Subject(events.DefaultSubjectPrefix, "foo", kinds[i%len(kinds)])] = true
	}
	assert.Len(t, subjects, len(kinds))
}

// TestFiltersMatchBothLayouts: a stream written before the current layout
// holds events on <prefix>.<ns>.<kind>.<aggregateId>; the filters readers
// use match those and the current ones alike.
func TestFiltersMatchBothLayouts(t *testing.T) {
	p := events.DefaultSubjectPrefix
	for _, subj := range []string{events.Subject(p, "foo", events.KindRole), events.AggregateSubject(p, "foo", events.KindRole, "r-1")} {
		for _, filter := range []string{events.NamespaceFilter(p, "foo"), events.KindFilter(p, "foo", events.KindRole), events.AllFilter(p)} {
			assert.True(t, strings.HasPrefix(subj, strings.TrimSuffix(filter, ">")), "%s does not match %s", subj, filter)
		}
	}
	assert.Equal(t, "grantlog.ev.foo.role.r-1", events.AggregateSubject(p, "foo", events.KindRole, "r-1"))
}

func TestFilters(t *testing.T) {
	assert.Equal(t, "grantlog.ev.foo.>", events.NamespaceFilter(events.DefaultSubjectPrefix, "foo"))
	assert.Equal(t, "grantlog.ev._platform.>", events.NamespaceFilter(events.DefaultSubjectPrefix, events.PlatformNamespace))
	assert.Equal(t, "grantlog.ev._platform.role.>", events.KindFilter(events.DefaultSubjectPrefix, events.PlatformNamespace, events.KindRole))
	assert.Equal(t, "grantlog.ev.>", events.AllFilter(events.DefaultSubjectPrefix))
	assert.Equal(t, "x.>", events.AllFilter("x"))
	// The filter of one namespace must not match a namespace it prefixes.
	f := strings.TrimSuffix(events.NamespaceFilter("p", "foo"), ">")
	assert.False(t, strings.HasPrefix(events.Subject("p", "foo2", events.KindUser), f))
}

func TestValidNamespace(t *testing.T) {
	tests := []struct {
		ns   string
		want bool
	}{
		{"foo", true},
		{"Foo9", true},
		{"9lives", true},
		{"studio1-", true},
		{"studio1-game1", true},
		{"a_b", true},
		{"a", true},
		{strings.Repeat("n", 64), true},
		{strings.Repeat("n", 65), false},
		{"", false},
		{events.PlatformNamespace, false},
		{"_foo", false},
		{"-foo", false},
		{"a.b", false},
		{"a*", false},
		{"a>", false},
		{"a b", false},
		{"a:b", false},
		{"a/b", false},
		{"{namespace}", false},
		{"é", false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, events.ValidNamespace(tc.ns), "ValidNamespace(%q)", tc.ns)
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"888", true},
		{"user-888", true},
		{"_svc", true},
		{"-x", true},
		{"3d5e8f20-1b6a-4c9d-8e7f-0a1b2c3d4e5f", true},
		{strings.Repeat("u", 64), true},
		{strings.Repeat("u", 65), true},
		{strings.Repeat("u", 128), true},
		{strings.Repeat("u", 129), false},
		{"", false},
		{"a.b", false},
		{"*", false},
		{">", false},
		{"a b", false},
		{"a:b", false},
		{"a/b", false},
		{"{userId}", false},
		{"ü", false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, events.ValidID(tc.id), "ValidID(%q)", tc.id)
	}
}

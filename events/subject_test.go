package events_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/grantlog/grantlog/events"
)

func TestSubject(t *testing.T) {
	tests := []struct {
		prefix, ns, kind, id string
		want                 string
	}{
		{events.DefaultSubjectPrefix, "foo", events.KindUser, "888", "grantlog.ev.foo.user.888"},
		{events.DefaultSubjectPrefix, events.PlatformNamespace, events.KindRole, "r-1", "grantlog.ev._platform.role.r-1"},
		{"acme.ev", "studio1-game1", events.KindNamespace, "studio1-game1", "acme.ev.studio1-game1.ns.studio1-game1"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			got := events.Subject(tc.prefix, tc.ns, tc.kind, tc.id)
			assert.Equal(t, tc.want, got)
			// Namespace is the second token after the prefix, so the
			// namespace filter matches the subject.
			filter := events.NamespaceFilter(tc.prefix, tc.ns)
			assert.True(t, strings.HasPrefix(got, strings.TrimSuffix(filter, ">")), "%s does not match %s", got, filter)
			assert.True(t, strings.HasPrefix(got, strings.TrimSuffix(events.AllFilter(tc.prefix), ">")))
		})
	}
}

func TestFilters(t *testing.T) {
	assert.Equal(t, "grantlog.ev.foo.>", events.NamespaceFilter(events.DefaultSubjectPrefix, "foo"))
	assert.Equal(t, "grantlog.ev._platform.>", events.NamespaceFilter(events.DefaultSubjectPrefix, events.PlatformNamespace))
	assert.Equal(t, "grantlog.ev.>", events.AllFilter(events.DefaultSubjectPrefix))
	assert.Equal(t, "x.>", events.AllFilter("x"))
	// The filter of one namespace must not match a namespace it prefixes.
	f := strings.TrimSuffix(events.NamespaceFilter("p", "foo"), ">")
	assert.False(t, strings.HasPrefix(events.Subject("p", "foo2", events.KindUser, "u"), f))
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

package server

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestHoldGCNests: overlapping holds keep collections held until the last
// is released, which restores the setting from before the first; a
// release called twice counts once.
func TestHoldGCNests(t *testing.T) {
	before := debug.SetGCPercent(150)
	defer debug.SetGCPercent(before)
	a := holdGC()
	b := holdGC()
	assert.Equal(t, -1, gcPercent())
	a()
	a()
	assert.Equal(t, -1, gcPercent(), "b still holds")
	b()
	assert.Equal(t, 150, gcPercent())
}

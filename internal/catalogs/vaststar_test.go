package catalogs_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/catalogs"
)

// A category given both "*" and a constrained endpoint would grant the
// whole category unconstrained, the endpoint's constraint meaning nothing
// (found by review): the mix is refused, and so is a key given twice.
func TestVastStarWithEndpointsRefused(t *testing.T) {
	_, err := catalogs.VastPermissions([]byte(`{"api": {"instance_read": {"*": {},
		"api.instance.show": {"constraints": {"id": {"eq": 1227}}}}}}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not both")
	_, err = catalogs.VastPermissions([]byte(`{"api": {"misc": {}, "misc": {"*": {}}}}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "twice")
}

package command_test

import (
	"context"
	"crypto/sha256"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/testutil"
)

// TestRegisterBootstrapCredentialOnce: two nodes registering the bootstrap
// credential of a stream at once append one event; a stream that has had
// one (even revoked) never takes another; only the service registers.
func TestRegisterBootstrapCredentialOnce(t *testing.T) {
	ctx := context.Background()
	log := testutil.StartLog(t, t.TempDir())
	a := testutil.StartNode(t, log, t.TempDir())
	b := testutil.StartNode(t, log, t.TempDir())

	h1, h2 := sha256.Sum256([]byte("glt_one")), sha256.Sum256([]byte("glt_two"))
	var wg sync.WaitGroup
	registered := make([]bool, 2)
	for i, n := range []*testutil.Node{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, _, _, err := n.Commands.RegisterBootstrapCredential(ctx, testutil.Root(), [][32]byte{h1, h2}[i])
			assert.NoError(t, err)
			registered[i] = ok
		}()
	}
	wg.Wait()
	assert.ElementsMatch(t, []bool{true, false}, registered, "exactly one registers")
	info, err := log.Stream.Info(ctx)
	require.NoError(t, err)
	testutil.WaitApplied(t, a.Store, info.State.LastSeq)
	v := a.Store.Acquire()
	live := v.LiveBootstrap()
	v.Release()
	require.Len(t, live, 1)

	// Revoked, the stream still never takes one from a file.
	_, err = a.Commands.RevokeBootstrapCredential(ctx, testutil.Root())
	require.NoError(t, err)
	ok, _, _, err := a.Commands.RegisterBootstrapCredential(ctx, testutil.Root(), sha256.Sum256([]byte("glt_three")))
	require.NoError(t, err)
	assert.False(t, ok)

	// Only the service: not the bootstrap credential (nor anyone else).
	_, _, _, err = a.Commands.RegisterBootstrapCredential(ctx, command.Meta{Caller: auth.BootstrapCredential(live[0].ID)}, h2)
	assert.ErrorIs(t, err, command.ErrForbidden)
	_, _, _, err = a.Commands.RegisterBootstrapCredential(ctx, command.Meta{Caller: events.Caller{Actor: events.Actor{Type: "user", ID: "mallory"}}}, h2)
	assert.ErrorIs(t, err, command.ErrForbidden)

	// Rotation needs ADMIN:BOOTSTRAP Update.
	_, err = a.Commands.RotateBootstrapCredential(ctx, command.Meta{Caller: events.Caller{Actor: events.Actor{Type: "user", ID: "mallory"}}})
	assert.ErrorIs(t, err, auth.ErrForbidden)
}

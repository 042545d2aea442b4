package ratelimit_test

import (
	"testing"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/edge/ratelimit"
)

// TestTokensOfOneOwnerShareABucket: a caller who may issue tokens to
// itself multiplies its allowance by the number of its tokens (each token
// has a bucket of its own): 2 tokens of alice, at 1/s burst 1, get 2
// requests at once.
func TestTokensOfOneOwnerShareABucket(t *testing.T) {
	l := ratelimit.New(1, 1)
	alice := events.Actor{Type: events.ActorUser, ID: "alice"}
	allowed := 0
	for _, id := range []string{"tok-1", "tok-2"} {
		c := events.Caller{Actor: events.Actor{Type: events.ActorToken, ID: id}, OnBehalfOf: &alice}
		if ok, _ := l.Allow(ratelimit.CallerKey(c)); ok {
			allowed++
		}
	}
	if allowed > 1 {
		t.Fatalf("alice's two tokens were allowed %d requests at once at 1/s burst 1: the limit is per token, not per principal", allowed)
	}
}

package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/grantlog/grantlog/internal/dataset"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

// benchToken is a token issued by the tokens phase and a check it allows.
type benchToken struct {
	secret, ns, user string
	obj              string // the object the token may read: NAMESPACE:{namespace}:USER:{userId}:<obj>
}

// resource is the token's permission bound to its namespace and owner.
func (t *benchToken) resource() string { return "NAMESPACE:" + t.ns + ":USER:" + t.user + ":" + t.obj }

// tokens issues --tokens API tokens through the command path (one command
// each, fsync on), each for a dataset user and narrower than what the user
// holds, then measures in-process token checks: the secret's hash lookup,
// the token's own permissions and its owner's current ones.
func (b *bench) tokens(ctx context.Context) error {
	n := b.cfg.tokens
	if n <= 0 {
		b.say("  --tokens 0: no tokens issued")
		return nil
	}
	toks := make([]benchToken, 0, n)
	for i := 0; len(toks) < n && i < len(b.d.Users); i++ {
		u := (i * 7919) % len(b.d.Users) // spread over the users
		a := b.d.Users[u][0]
		ns := dataset.NSName(0)
		if len(a.Namespaces) > 0 {
			ns = a.Namespaces[0]
		}
		// Every generated role's first permission is
		// NAMESPACE:{namespace}:USER:{userId}:<OBJECT> with Read.
		obj := b.d.RolePerms[a.Role][0].Resource[len("NAMESPACE:{namespace}:USER:{userId}:"):]
		user := dataset.UserID(u)
		toks = append(toks, benchToken{ns: ns, user: user, obj: obj})
	}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	work := make(chan int)
	start := time.Now()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				t := &toks[i]
				var out struct {
					Token string `json:"token"`
				}
				_, err := b.call(ctx, "POST", "/v1/namespaces/"+t.ns+"/tokens", map[string]any{
					"name":        fmt.Sprintf("bench-%d", i),
					"owner":       map[string]string{"type": "user", "id": t.user},
					"permissions": []perm.Permission{{Resource: "NAMESPACE:{namespace}:USER:{userId}:" + t.obj, Action: perm.Read}},
				}, &out)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("issue token for %s in %s: %w", t.user, t.ns, err)
				}
				mu.Unlock()
				t.secret = out.Token
			}
		}()
	}
	for i := range toks {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	el := time.Since(start)
	b.add("tokens", "tokens issued", float64(len(toks))/el.Seconds(), "tokens/s", fmt.Sprintf("%d tokens, one command each, 4 writers, fsync on", len(toks)))

	// Half the checks ask what the token was issued (allowed), half ask
	// Delete on it (the token holds Read only: denied).
	reqs := make([]query.CheckRequest, 2*len(toks))
	for i, t := range toks {
		for j, act := range []perm.Action{perm.Read, perm.Delete} {
			reqs[2*i+j] = query.CheckRequest{Subject: query.Subject{Type: query.SubjectToken, Token: t.secret},
				Namespace: t.ns, Resource: t.resource(), Action: act}
		}
	}
	checks := max(b.cfg.inprocCheck/4, len(reqs))
	allowed := 0
	lat, el, err := timed(1, checks, func(_, i int) error {
		r := &reqs[i%len(reqs)]
		res, err := b.srv.Query.Check(ctx, r)
		if res.Allowed {
			allowed++
		}
		if err == nil && res.Allowed != (r.Action == perm.Read) {
			err = fmt.Errorf("token check %s %d answered allowed=%v", r.Resource, r.Action, res.Allowed)
		}
		return err
	})
	if err != nil {
		return err
	}
	p := percentiles(lat)
	b.addDist("tokens", "token check, 1 goroutine", lat)
	b.add("tokens", "token check p50", us(p[0]), "µs", fmt.Sprintf("in-process; %d%% allowed (SHA-256 of the secret, token ∩ owner)", allowed*100/checks))
	b.add("tokens", "token check p99", us(p[1]), "µs", "")
	b.add("tokens", "token checks, 1 goroutine", float64(checks)/el.Seconds(), "checks/s", "")
	return nil
}

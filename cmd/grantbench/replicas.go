package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/internal/edge/checkjson"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

// Phases that measure the ways of reaching a replica: the NATS micro API,
// batch checks (HTTP and NATS) and the embedded follower of the Go SDK.
// They need the in-process server: its NATS URL and the users'
// credentials files in its data directory.

// natsConn connects to the in-process server's NATS as the API client
// user, as a service on NATS would.
func (b *bench) natsConn() (*nats.Conn, error) {
	url := b.srv.NATSURL()
	if url == "" {
		return nil, fmt.Errorf("the in-process server has no NATS listener")
	}
	return eventlog.Connect(eventlog.ConnectConfig{URL: url, CredsFile: filepath.Join(b.dataDir, eventlog.ClientCredsFile), Name: "grantbench"})
}

// followerCreds is the embedded follower user's credentials file.
func (b *bench) followerCreds() string { return filepath.Join(b.dataDir, eventlog.FollowerCredsFile) }

// natsChecks measures grantlog.v1.check over NATS request/reply with the
// SDK's NATS client, at concurrency 1 and 4.
func (b *bench) natsChecks(ctx context.Context) error {
	nc, err := b.natsConn()
	if err != nil {
		return err
	}
	defer nc.Close()
	nclient := client.NewNATS(nc, b.token)
	reqs := b.checkRequests(b.cfg.checks, 4)
	for _, conc := range []int{1, 4} {
		n := b.cfg.checks
		lat, el, err := timed(conc, n, func(_, i int) error {
			_, err := nclient.Check(ctx, &reqs[i%len(reqs)])
			return err
		})
		if err != nil {
			return err
		}
		b.addTimed("nats", fmt.Sprintf("NATS check, %d client(s)", conc), n, el, lat,
			"checks/s", "grantlog.v1.check via client.NewNATS, one connection, replica user")
	}
	return nil
}

// batchChecks measures batch checks of query.MaxBatch (1000) checks over
// HTTP (POST /v1/checks) and NATS (grantlog.v1.checks), from two clients
// (so that both cores serve) sending bodies encoded once beforehand. Each
// answer is decoded (checkjson's fast path, else encoding/json) and must
// hold one result per check, none refused, all at the batch's revision:
// the phase cannot measure errors.
func (b *bench) batchChecks(ctx context.Context) error {
	const clients = 2
	size := query.MaxBatch
	// At least 1,000 batches (about a second per transport): with 100 the
	// rate of one run swung by a factor of two (one GC cycle, a scheduler
	// hiccup), and fewer make it a measure of the first requests' warm-up.
	batches := max(b.cfg.checks/size, 1000)
	reqs := b.checkRequests(size*min(batches, 20), 5)
	body := func(i int) *query.BatchRequest {
		off := (i * size) % len(reqs)
		if off+size > len(reqs) {
			off = 0
		}
		return &query.BatchRequest{Checks: reqs[off : off+size]}
	}
	bodies := make([][]byte, min(batches, 20)) // used in turn
	for i := range bodies {
		var err error
		if bodies[i], err = checkjson.AppendBatchRequest(nil, body(i)); err != nil {
			return err
		}
	}
	// Per client: the answer's bytes and its decoding, reused.
	type buffers struct {
		raw []byte
		res query.BatchResult
	}
	bufs := make([]buffers, clients)
	verify := func(data []byte, res *query.BatchResult) error {
		if !checkjson.DecodeBatchResult(data, res) {
			*res = query.BatchResult{}
			if err := json.Unmarshal(data, res); err != nil {
				return fmt.Errorf("batch check answer: %w", err)
			}
		}
		if len(res.Results) != size {
			return fmt.Errorf("batch check answered %d results, want %d", len(res.Results), size)
		}
		for i := range res.Results {
			if it := &res.Results[i]; it.ErrorCode != "" || it.Revision != res.Revision {
				return fmt.Errorf("batch check result %d: %+v at revision %d", i, *it, res.Revision)
			}
		}
		return nil
	}
	note := fmt.Sprintf("%d batches of %d, %d clients, bodies encoded beforehand", batches, size, clients)

	httpBatch := func(w, i int) error {
		req, _ := http.NewRequestWithContext(ctx, "POST", b.base+"/v1/checks", bytes.NewReader(bodies[i%len(bodies)]))
		req.Header.Set("Authorization", "Bearer "+b.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := b.hc.Do(req)
		if err != nil {
			return err
		}
		buf := bytes.NewBuffer(bufs[w].raw[:0])
		_, err = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		bufs[w].raw = buf.Bytes()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("batch check answered %d: %s", resp.StatusCode, bufs[w].raw)
		}
		return verify(bufs[w].raw, &bufs[w].res)
	}
	// One untimed batch per client first: connections and pools warm.
	if _, _, err := timed(clients, clients, httpBatch); err != nil {
		return err
	}
	lat, el, err := timed(clients, batches, httpBatch)
	if err != nil {
		return err
	}
	p := percentiles(lat)
	b.add("batch", "HTTP batch check", float64(batches*size)/el.Seconds(), "checks/s", note+", POST /v1/checks")
	b.add("batch", "HTTP batch check p50", us(p[0]), "µs", "per batch")

	nc, err := b.natsConn()
	if err != nil {
		return err
	}
	defer nc.Close()
	natsBatch := func(w, i int) error {
		msg := nats.NewMsg(client.ChecksSubject)
		msg.Data = bodies[i%len(bodies)]
		msg.Header.Set("Authorization", "Bearer "+b.token)
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		reply, err := nc.RequestMsgWithContext(rctx, msg)
		cancel()
		if err != nil {
			return err
		}
		if status := reply.Header.Get(micro.ErrorCodeHeader); status != "" {
			return fmt.Errorf("batch check answered %s: %s", status, reply.Data)
		}
		return verify(reply.Data, &bufs[w].res)
	}
	if _, _, err := timed(clients, clients, natsBatch); err != nil {
		return err
	}
	lat, el, err = timed(clients, batches, natsBatch)
	if err != nil {
		return err
	}
	p = percentiles(lat)
	b.add("batch", "NATS batch check", float64(batches*size)/el.Seconds(), "checks/s", note+", grantlog.v1.checks")
	b.add("batch", "NATS batch check p50", us(p[0]), "µs", "per batch")
	return nil
}

// follower starts the SDK's embedded follower on a fresh directory against
// the in-process server's NATS, measures its catch-up, in-process checks
// on it, and write-to-visible: a command over HTTP, then the follower
// having applied the command's revision.
func (b *bench) follower(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "grantbench-follower-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	head := b.srv.Store().Applied()
	start := time.Now()
	f, err := client.NewFollower(ctx, client.FollowerConfig{URL: b.srv.NATSURL(), CredsFile: b.followerCreds(),
		// Catch-up by replay: the coldstart phase measures starts from a snapshot.
		Dir: filepath.Join(dir, "index"), Logger: b.log, NoSnapshot: true})
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	err = f.WaitFor(wctx, head)
	cancel()
	if err != nil {
		return fmt.Errorf("follower catch-up to revision %d (at %d): %w", head, f.Revision(), err)
	}
	el := time.Since(start)
	b.add("follower", "catch-up from empty", float64(el.Milliseconds()), "ms",
		fmt.Sprintf("NewFollower to WaitFor(revision %d): connect, open index, replay", head))

	// In-process checks on the follower.
	if err := b.localChecks(ctx, "follower", "Follower.Check, ", f.Check); err != nil {
		return err
	}

	// Write to visible at the follower.
	roleID, err := b.someRole(ctx)
	if err != nil {
		return err
	}
	writes := max(b.cfg.commands, 50)
	ackToVisible := make([]time.Duration, writes)
	writeToVisible := make([]time.Duration, writes)
	stamp := time.Now().UnixNano()
	for i := range writes {
		var out struct {
			Revision uint64 `json:"revision"`
		}
		t0 := time.Now()
		if _, err := b.call(ctx, "POST", fmt.Sprintf("/v1/namespaces/follower/users/f%d-%d/roles", stamp, i),
			map[string]any{"roleId": roleID, "assignedNamespaces": []string{"follower"}}, &out); err != nil {
			return err
		}
		t1 := time.Now()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := f.WaitFor(wctx, out.Revision)
		cancel()
		if err != nil {
			return fmt.Errorf("follower did not apply revision %d: %w", out.Revision, err)
		}
		t2 := time.Now()
		ackToVisible[i], writeToVisible[i] = t2.Sub(t1), t2.Sub(t0)
	}
	p := percentiles(ackToVisible)
	b.add("follower", "command answered to visible p50", us(p[0]), "µs", "HTTP command answered → Follower.WaitFor(its revision)")
	b.add("follower", "command answered to visible p99", us(p[1]), "µs", "")
	p = percentiles(writeToVisible)
	b.add("follower", "write to visible p50", us(p[0]), "µs", "HTTP command sent (fsync, server applies) → visible at the follower")
	b.add("follower", "write to visible p99", us(p[1]), "µs", "")
	return nil
}

// someRole returns a role loaded by the load phase, or creates one.
func (b *bench) someRole(ctx context.Context) (string, error) {
	for _, id := range b.roleIDs {
		return id, nil
	}
	var role struct {
		RoleID string `json:"roleId"`
	}
	_, err := b.call(ctx, "POST", "/v1/roles", map[string]any{"roleName": fmt.Sprintf("BenchFollower%d", time.Now().UnixNano()),
		"permissions": []perm.Permission{{Resource: "NAMESPACE:{namespace}:USER:{userId}:SAVE", Action: perm.CRUD}}}, &role)
	return role.RoleID, err
}

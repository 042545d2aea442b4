package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sdk "github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/internal/edge/natsapi"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/testutil"
)

// attackEnv is a running deployment under attack: a NATS server with the
// accounts of eventlog.AccountsConfig, a role all node holding the event
// stream and answering checks over NATS.
type attackEnv struct {
	url   string
	creds map[string]eventlog.Creds // by user name
	token string                    // the bootstrap admin's token
	node  *node
	// embedded: the NATS server is the node's embedded one (which serves
	// backups), not a nats-server process with deploy/nats/nats.conf.
	embedded bool
	// noCommandJetStream: the command account has no JetStream of its own
	// (a region's NATS, deploy/nats/region.conf), so the reply-route probe
	// that needs a stream of the command user's own cannot be set up; it
	// runs against the home configurations.
	noCommandJetStream bool
}

// connect connects as user (with its own inbox prefix) and records the
// permission errors the server sends it.
func (e *attackEnv) connect(t *testing.T, user string) (*nats.Conn, *violations) {
	t.Helper()
	v := &violations{}
	c := e.creds[user]
	nc, err := eventlog.Connect(eventlog.ConnectConfig{URL: e.url, User: c.User, Password: c.Password, Name: "attacker-" + user,
		Options: []nats.Option{nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { v.add(err) })}})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc, v
}

type violations struct {
	mu   sync.Mutex
	errs []string
}

func (v *violations) add(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.errs = append(v.errs, err.Error())
}

func (v *violations) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.errs)
}

// streamState reads the event stream with the command user: its last
// sequence, and the deliver subjects of its push consumers.
func (e *attackEnv) streamState(ctx context.Context, t *testing.T) (last uint64, msgs uint64, pushTo []string) {
	t.Helper()
	nc, _ := e.connect(t, eventlog.CommandUser)
	js, err := jetstream.NewWithAPIPrefix(nc, eventlog.StoreAPIPrefix)
	require.NoError(t, err)
	st, err := js.Stream(ctx, eventlog.DefaultStream)
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	lister := st.ListConsumers(ctx)
	for ci := range lister.Info() {
		if ci.Config.DeliverSubject != "" {
			pushTo = append(pushTo, ci.Config.DeliverSubject)
		}
	}
	require.NoError(t, lister.Err())
	return info.State.LastSeq, info.State.Msgs, pushTo
}

// describe is the subject and start of the event at seq.
func (e *attackEnv) describe(ctx context.Context, t *testing.T, seq uint64) string {
	nc, _ := e.connect(t, eventlog.CommandUser)
	js, err := jetstream.NewWithAPIPrefix(nc, eventlog.StoreAPIPrefix)
	require.NoError(t, err)
	st, err := js.Stream(ctx, eventlog.DefaultStream)
	require.NoError(t, err)
	m, err := st.GetMsg(ctx, seq)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%s %.200s", m.Subject, m.Data)
}

// checkReadersIntact checks, through the readers' imports, that the
// readers' mirror still exists, is still the mirror of the event stream
// and holds the stream up to last, and that the snapshot bucket answers.
func (e *attackEnv) checkReadersIntact(ctx context.Context, t *testing.T, last uint64) {
	t.Helper()
	nc, _ := e.connect(t, eventlog.FollowerUser)
	mjs, err := jetstream.NewWithAPIPrefix(nc, eventlog.MirrorAPIPrefix)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st, err := eventlog.OpenReaderMirror(ctx, mjs)
		return err == nil && st.CachedInfo().State.LastSeq == last
	}, 10*time.Second, 20*time.Millisecond, "the readers' mirror is intact and in step with the stream")
	sjs, err := jetstream.NewWithAPIPrefix(nc, eventlog.CommandAPIPrefix)
	require.NoError(t, err)
	_, err = sjs.Stream(ctx, "OBJ_GRANTLOG_SNAPSHOTS")
	require.NoError(t, err, "the snapshot bucket still answers")
}

// nonCommandUsers are every credential but the command side's.
var nonCommandUsers = []string{eventlog.ReplicaUser, eventlog.FollowerUser, eventlog.ClientUser}

// runAttackSuite tries every route by which a non-command credential
// could get a message stored in the event stream, read another caller's
// credentials, answer in the service's place, or edit the stream, and
// checks that none works and the stream is unchanged.
func runAttackSuite(t *testing.T, e *attackEnv) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A snapshot, so that the bucket exists to be attacked.
	e.node.c.must(http.StatusCreated, "POST", "/v1/admin/snapshots", nil)
	last0, msgs0, _ := e.streamState(ctx, t)
	require.NotZero(t, last0, "the bootstrap wrote events")

	for _, user := range nonCommandUsers {
		t.Run("inject/"+user, func(t *testing.T) {
			nc, _ := e.connect(t, user)
			evil := func(route string) string { return "grantlog.ev._platform.role." + route }
			// Direct publish, plain and as a JetStream publish.
			require.NoError(t, nc.Publish(evil("publish"), []byte(`{"type":"role.created.v1"}`)))
			js, err := jetstream.New(nc)
			require.NoError(t, err)
			pctx, pcancel := context.WithTimeout(ctx, time.Second)
			_, err = js.Publish(pctx, evil("jspublish"), []byte(`{}`))
			pcancel()
			require.Error(t, err, "a JetStream publish of an event must fail")

			req := func(subject, reply string, body any) {
				data, ok := body.([]byte)
				if !ok {
					var err error
					data, err = json.Marshal(body)
					require.NoError(t, err)
				}
				msg := nats.NewMsg(subject)
				msg.Reply, msg.Data = reply, data
				msg.Header.Set(natsapi.AuthorizationHeader, "Bearer "+e.token)
				require.NoError(t, nc.PublishMsg(msg))
			}
			api := "$JS.API."
			mirror := eventlog.ReaderStream
			// Push consumers whose deliveries land on event subjects: on the
			// readers' mirror, and on the event stream through the import.
			push := map[string]any{"deliver_subject": evil("push"), "deliver_policy": "all", "ack_policy": "none"}
			req(api+"CONSUMER.CREATE."+mirror, "", map[string]any{"stream_name": mirror, "config": push})
			req(api+"CONSUMER.CREATE."+mirror+".evilpush", "", map[string]any{"stream_name": mirror, "config": merge(push, "name", "evilpush")})
			req(eventlog.CommandAPIPrefix+".CONSUMER.CREATE."+eventlog.DefaultStream, "",
				map[string]any{"stream_name": eventlog.DefaultStream, "config": map[string]any{"deliver_subject": "$O.GRANTLOG_SNAPSHOTS.M.evil", "deliver_policy": "all"}})
			req(api+"CONSUMER.CREATE."+eventlog.DefaultStream, "", map[string]any{"stream_name": eventlog.DefaultStream, "config": push})
			// A JetStream answer echoing a consumer's config, sent to the
			// imported consumer-create subject of the event stream.
			pushCfg := map[string]any{"name": "echo", "deliver_subject": "$O.GRANTLOG_SNAPSHOTS.M.echo", "deliver_policy": "all", "ack_policy": "none"}
			req(api+"CONSUMER.CREATE."+mirror+".echo", eventlog.CommandAPIPrefix+".CONSUMER.CREATE."+eventlog.DefaultStream,
				map[string]any{"stream_name": mirror, "config": pushCfg})
			req(api+"CONSUMER.INFO."+mirror+".echo", eventlog.CommandAPIPrefix+".CONSUMER.CREATE."+eventlog.DefaultStream, []byte(nil))
			// A pull consumer asked for its next message, with the reply on an
			// event subject.
			req(api+"CONSUMER.CREATE."+mirror+".evilpull", "", map[string]any{"stream_name": mirror,
				"config": map[string]any{"name": "evilpull", "deliver_policy": "all", "ack_policy": "none"}})
			req(api+"CONSUMER.MSG.NEXT."+mirror+".evilpull", evil("pull"), map[string]any{"batch": 5, "expires": int64(time.Second)})
			// Direct gets (the mirror, the snapshot bucket through the
			// import), message gets, and the JetStream API's own answers.
			req(api+"DIRECT.GET."+mirror, evil("directget"), map[string]any{"seq": 1})
			req(api+"STREAM.MSG.GET."+mirror, evil("msgget"), map[string]any{"seq": 1})
			req(eventlog.CommandAPIPrefix+".DIRECT.GET.OBJ_GRANTLOG_SNAPSHOTS", evil("snapget"), map[string]any{"seq": 1})
			req(eventlog.CommandAPIPrefix+".STREAM.INFO.OBJ_GRANTLOG_SNAPSHOTS", evil("snapinfo"), []byte(nil))
			req(api+"INFO", evil("apiinfo"), []byte(nil))
			req(api+"STREAM.INFO."+mirror, evil("streaminfo"), []byte(nil))
			// Grantlog's own responders.
			req(natsapi.CheckSubject, evil("check"), map[string]any{"subject": map[string]any{"type": "user", "id": "x"},
				"namespace": "g", "resource": "NAMESPACE:g:X", "action": 2})
			req(natsapi.ChecksSubject, evil("checks"), map[string]any{"checks": []any{}})
			req(natsapi.CommandSubjectPrefix+".role.create", evil("command"), map[string]any{"roleName": "not a valid role name"})
			req("$SRV.PING", evil("srvping"), []byte(nil))
			// Streams that would capture, republish, mirror or source events,
			// and KV or object store buckets.
			req(api+"STREAM.CREATE.EVIL", "", map[string]any{"name": "EVIL", "subjects": []string{"evil.>"},
				"republish": map[string]any{"src": ">", "dest": "grantlog.ev._platform.role.republish"}})
			req(api+"STREAM.CREATE.EVILSRC", "", map[string]any{"name": "EVILSRC", "sources": []any{map[string]any{"name": mirror}}})
			req(api+"STREAM.CREATE.KV_EVIL", "", map[string]any{"name": "KV_EVIL", "subjects": []string{"$KV.EVIL.>"}})
			req(api+"STREAM.UPDATE."+mirror, "", map[string]any{"name": mirror, "subjects": []string{"grantlog.ev.>"}})
			req(api+"STREAM.DELETE."+mirror, "", []byte(nil))
			// The same, through the readers' imports: reads of the mirror
			// and the snapshots whose answers (an empty 404, a stored
			// message) go to an admin subject of the JetStream API — in the
			// reader's own account (no JetStream there), under the import
			// prefixes, or to the consumer-create of the event stream.
			mapi, capi := eventlog.MirrorAPIPrefix+".", eventlog.CommandAPIPrefix+"."
			// Push consumers on the mirror (created through the import, so
			// they live in the mirror's account) delivering events and idle
			// heartbeats (empty bodies) to JetStream admin subjects there
			// and to the imported consumer-create of the event stream.
			for i, to := range []string{api + "STREAM.DELETE." + mirror, api + "STREAM.PURGE." + mirror,
				api + "STREAM.UPDATE." + mirror, capi + "CONSUMER.CREATE." + eventlog.DefaultStream, "$JS.FC.x"} {
				name := fmt.Sprintf("evilhb%d", i)
				req(mapi+"CONSUMER.CREATE."+mirror+"."+name, "", map[string]any{"stream_name": mirror, "config": map[string]any{
					"name": name, "deliver_subject": to, "deliver_policy": "all", "ack_policy": "none",
					"idle_heartbeat": int64(100 * time.Millisecond), "flow_control": true}})
			}
			for _, victim := range []string{
				api + "STREAM.DELETE." + mirror, api + "STREAM.DELETE." + eventlog.DefaultStream,
				api + "STREAM.UPDATE." + mirror, api + "STREAM.PURGE." + mirror,
				mapi + "STREAM.DELETE." + mirror, mapi + "STREAM.PURGE." + mirror, mapi + "CONSUMER.DELETE." + mirror + ".x",
				capi + "STREAM.DELETE." + eventlog.DefaultStream, capi + "STREAM.DELETE.OBJ_GRANTLOG_SNAPSHOTS",
				capi + "STREAM.DELETE.KV_GRANTLOG_KEYS", capi + "STREAM.UPDATE." + eventlog.DefaultStream,
				capi + "CONSUMER.CREATE." + eventlog.DefaultStream,
			} {
				req(mapi+"DIRECT.GET."+mirror, victim, map[string]any{"seq": 999999})
				req(mapi+"DIRECT.GET."+mirror, victim, map[string]any{"seq": 1})
				req(mapi+"STREAM.INFO."+mirror, victim, []byte(nil))
				req(capi+"DIRECT.GET.OBJ_GRANTLOG_SNAPSHOTS", victim, map[string]any{"seq": 999999})
				req(capi+"STREAM.INFO.OBJ_GRANTLOG_SNAPSHOTS", victim, []byte(nil))
				req(api+"DIRECT.GET."+mirror, victim, map[string]any{"seq": 999999})
			}
			require.NoError(t, nc.FlushTimeout(5*time.Second))
		})
	}

	// The server processed every attack (each connection flushed); give
	// consumers it created a moment to deliver (and heartbeat), then look.
	time.Sleep(time.Second)
	last1, msgs1, pushTo := e.streamState(ctx, t)
	for seq := last0 + 1; seq <= last1; seq++ {
		t.Errorf("appended at %d: %s", seq, e.describe(ctx, t, seq))
	}
	assert.Equal(t, last0, last1, "nothing was appended to the event stream")
	assert.Equal(t, msgs0, msgs1)
	for _, subj := range pushTo {
		assert.True(t, strings.HasPrefix(subj, eventlog.MirrorDeliverPrefix+"."),
			"the event stream's only push consumer is the readers' mirror's, not one delivering to %s", subj)
	}
	e.checkReadersIntact(ctx, t, last1)

	t.Run("edit-stream/command", func(t *testing.T) {
		nc, _ := e.connect(t, eventlog.CommandUser)
		own, err := jetstream.New(nc)
		require.NoError(t, err)
		js, err := jetstream.NewWithAPIPrefix(nc, eventlog.StoreAPIPrefix)
		require.NoError(t, err)
		cfg := eventlog.StreamConfig(eventlog.DefaultStream, "grantlog.ev", 1)
		cfg.MaxAge, cfg.MaxMsgs = time.Second, 1
		for _, j := range []jetstream.JetStream{own, js} {
			uctx, ucancel := context.WithTimeout(ctx, 2*time.Second)
			_, err = j.UpdateStream(uctx, cfg)
			require.Error(t, err, "the command user may not change the event stream")
			require.Error(t, j.DeleteStream(uctx, eventlog.DefaultStream))
			ucancel()
		}
		st, err := js.Stream(ctx, eventlog.DefaultStream)
		require.NoError(t, err)
		uctx, ucancel := context.WithTimeout(ctx, 2*time.Second)
		defer ucancel()
		require.Error(t, st.DeleteMsg(uctx, 1))
		require.Error(t, st.Purge(uctx))
		if e.noCommandJetStream {
			return
		}
		// The reply route, from the command account: an empty 404 and a
		// stored stream configuration, each answered onto the admin
		// subjects of the event stream, in the command account and under
		// the store account's import prefix.
		data, err := json.Marshal(cfg)
		require.NoError(t, err)
		evil, err := own.CreateStream(ctx, jetstream.StreamConfig{Name: "EVIL", Subjects: []string{"evil.>"}, AllowDirect: true})
		require.NoError(t, err)
		_, err = own.Publish(ctx, "evil.cfg", data)
		require.NoError(t, err)
		for _, victim := range []string{"$JS.API.STREAM.UPDATE.GRANTLOG", "$JS.API.STREAM.DELETE.GRANTLOG", "$JS.API.STREAM.PURGE.GRANTLOG",
			eventlog.StoreAPIPrefix + ".STREAM.UPDATE.GRANTLOG", eventlog.StoreAPIPrefix + ".STREAM.DELETE.GRANTLOG",
			eventlog.StoreAPIPrefix + ".STREAM.PURGE.GRANTLOG", eventlog.StoreAPIPrefix + ".STREAM.CREATE.GRANTLOG"} {
			for _, get := range []map[string]any{{"seq": 1}, {"seq": 999999}} {
				msg := nats.NewMsg("$JS.API.DIRECT.GET.EVIL")
				msg.Reply = victim
				msg.Data, err = json.Marshal(get)
				require.NoError(t, err)
				require.NoError(t, nc.PublishMsg(msg))
				msg = nats.NewMsg(eventlog.StoreAPIPrefix + ".DIRECT.GET.GRANTLOG")
				msg.Reply = victim
				msg.Data, err = json.Marshal(get)
				require.NoError(t, err)
				require.NoError(t, nc.PublishMsg(msg))
			}
		}
		require.NoError(t, nc.FlushTimeout(5*time.Second))
		require.NoError(t, own.DeleteStream(ctx, evil.CachedInfo().Config.Name))
		time.Sleep(300 * time.Millisecond)
		info, err := st.Info(ctx)
		require.NoError(t, err)
		assert.Zero(t, info.Config.MaxAge)
		assert.LessOrEqual(t, info.Config.MaxMsgs, int64(0))
		assert.Equal(t, last0, info.State.LastSeq)
	})

	// Backups: the snapshot of the stream (and the sealed signing key's
	// bucket) is asked on a command-account subject and delivered there;
	// no other credential may ask for one or receive its chunks.
	t.Run("backup", func(t *testing.T) {
		if e.embedded { // control: the embedded server answers the command user
			nc, _ := e.connect(t, eventlog.CommandUser)
			_, err := nc.Subscribe(eventlog.BackupDeliverPrefix+".control-1", func(*nats.Msg) {})
			require.NoError(t, err)
			req, _ := json.Marshal(map[string]string{"stream": eventlog.DefaultStream, "id": "control-1"})
			_, err = nc.Request(eventlog.BackupSubject, req, 5*time.Second)
			require.NoError(t, err, "the command user's backup request is answered")
		}
		for _, user := range nonCommandUsers {
			nc, _ := e.connect(t, user)
			chunks := 0
			_, err := nc.Subscribe(eventlog.BackupDeliverPrefix+".>", func(*nats.Msg) { chunks++ })
			require.NoError(t, err)
			req, _ := json.Marshal(map[string]string{"stream": eventlog.DefaultStream, "id": "attacker-" + user})
			_, err = nc.Request(eventlog.BackupSubject, req, time.Second)
			assert.Error(t, err, "%s: %s must not be answered", user, eventlog.BackupSubject)
			require.NoError(t, nc.FlushTimeout(5*time.Second))
			assert.Zero(t, chunks, "%s received backup chunks", user)
		}
	})

	t.Run("sniff-and-impersonate", func(t *testing.T) {
		var sniffed sync.Map
		var got int
		for _, user := range nonCommandUsers {
			nc, v := e.connect(t, user)
			for _, subj := range []string{">", "_INBOX.>", "_INBOX_client.>", "grantlog.v1.>", "_R_.>", "$JS.>"} {
				if user == eventlog.ClientUser && subj == "_INBOX_client.>" {
					continue // its own inbox
				}
				_, err := nc.Subscribe(subj, func(m *nats.Msg) { sniffed.Store(user+" "+subj+" "+m.Subject, string(m.Data)) })
				require.NoError(t, err)
			}
			if user != eventlog.ReplicaUser { // a replica is a Grantlog node: it answers checks
				_, err := nc.QueueSubscribe(natsapi.CheckSubject, "q", func(m *nats.Msg) {
					_ = m.Respond([]byte(`{"allowed":true,"revision":1}`))
				})
				require.NoError(t, err)
				// Nor may it answer the reads (served since the operation
				// table, in the readers' account).
				_, err = nc.QueueSubscribe(natsapi.ReadSubjectPrefix+".>", "q", func(m *nats.Msg) {
					_ = m.Respond([]byte(`{"data":[{"name":"forged"}],"paging":{},"revision":1}`))
				})
				require.NoError(t, err)
			}
			require.NoError(t, nc.FlushTimeout(5*time.Second))
			require.Eventually(t, func() bool { return v.count() > 0 }, 5*time.Second, 10*time.Millisecond,
				"%s: the server refuses the subscriptions", user)
		}
		// A legitimate client issues a token over NATS and asks checks.
		nc, _ := e.connect(t, eventlog.ClientUser)
		issue := natsCheck(t, nc, natsapi.CommandSubjectPrefix+".token.issue", e.token, map[string]any{
			"namespace": "attack", "name": "secret-token",
			"permissions": []any{map[string]any{"resource": "NAMESPACE:attack:X", "action": 2}}})
		issued := decodeMap(t, issue.Data)
		secret, _ := issued["token"].(string)
		require.NotEmpty(t, secret, "token issued: %s", issue.Data)
		require.Positive(t, num(issued["revision"]), "token issued: %s", issue.Data)
		for range 20 {
			reply := natsCheck(t, nc, natsapi.CheckSubject, e.token, map[string]any{
				"subject": map[string]any{"type": "user", "id": "nobody"}, "namespace": "attack",
				"resource": "NAMESPACE:attack:X", "action": 2})
			out := decodeMap(t, reply.Data)
			assert.Equal(t, false, out["allowed"], "every check is answered by Grantlog: %s", reply.Data)
			got++
		}
		require.Equal(t, 20, got)
		for range 10 {
			// A replica may answer: it reads at the issue's revision at least.
			reply := natsCheck(t, nc, natsapi.ReadSubjectPrefix+".token.list", e.token, map[string]any{"namespace": "attack",
				"atLeastRevision": num(issued["revision"])})
			assert.Contains(t, string(reply.Data), "secret-token", "every read is answered by Grantlog")
			assert.NotContains(t, string(reply.Data), "forged")
			assert.NotContains(t, string(reply.Data), secret, "a list never carries a token's secret")
		}
		sniffed.Range(func(k, v any) bool {
			t.Errorf("sniffed %v: %v", k, v)
			return true
		})
	})
}

// injectionControl shows that the suite would see an injection: the
// command user (who may publish events) stores an unsigned message in the
// stream, the suite's check sees it, and the node refuses it without
// stopping.
func injectionControl(t *testing.T, e *attackEnv) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	last0, _, _ := e.streamState(ctx, t)
	nc, _ := e.connect(t, eventlog.CommandUser)
	msg := nats.NewMsg("grantlog.ev._platform.role.control")
	msg.Data = []byte(`{"type":"role.created.v1"}`)
	require.NoError(t, nc.PublishMsg(msg))
	require.NoError(t, nc.FlushTimeout(5*time.Second))
	require.Eventually(t, func() bool {
		last, _, _ := e.streamState(ctx, t)
		return last == last0+1
	}, 10*time.Second, 20*time.Millisecond, "the command user's publish is stored")
	require.Eventually(t, func() bool {
		st := e.node.c.must(http.StatusOK, "GET", "/v1/status", nil)
		refused, _ := st["refused"].(map[string]any)
		return refused != nil && num(refused["lastRevision"]) == last0+1
	}, 10*time.Second, 20*time.Millisecond, "the node refuses the unsigned message and reports it")
	st := e.node.c.must(http.StatusOK, "GET", "/v1/status", nil)
	assert.Equal(t, last0+1, num(st["revision"]), "the node moved past it and keeps serving")
}

func merge(m map[string]any, kv ...string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// readCreds reads the data directory's credentials files.
func readCreds(t *testing.T, dir string) map[string]eventlog.Creds {
	t.Helper()
	out := map[string]eventlog.Creds{}
	for _, user := range []string{eventlog.CommandUser, eventlog.ReplicaUser, eventlog.FollowerUser, eventlog.ClientUser} {
		raw, err := os.ReadFile(filepath.Join(dir, eventlog.CredsFile(user)))
		require.NoError(t, err)
		c, err := eventlog.ParseCreds(raw)
		require.NoError(t, err)
		out[user] = c
	}
	return out
}

// TestAttackEmbedded runs the attack suite against the embedded server of
// `grantlog serve`.
func TestAttackEmbedded(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, server.Config{DataDir: dir, NATSListen: "127.0.0.1:0"}, "")
	e := &attackEnv{url: n.srv.NATSURL(), creds: readCreds(t, dir), token: n.c.token, node: n, embedded: true}
	runAttackSuite(t, e)
	injectionControl(t, e)
}

// TestAttackDeployConfig runs the attack suite against the real
// nats-server started with deploy/nats/nats.conf, with a role all node
// (the command user) and a replica node (the replica user) on it.
func TestAttackDeployConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real nats-server; skipped with -short")
	}
	creds := map[string]eventlog.Creds{}
	env := []string{"NATS_SERVER_NAME=attack"}
	for _, user := range []string{eventlog.CommandUser, eventlog.ReplicaUser, eventlog.FollowerUser, eventlog.ClientUser} {
		c := eventlog.Creds{User: user, Password: fmt.Sprintf("%s-%d-secret", user, time.Now().UnixNano())}
		creds[user] = c
		env = append(env, "GRANTLOG_NATS_"+strings.ToUpper(user)+"_PASSWORD="+c.Password)
	}
	ns := testutil.StartNATSServer(t, filepath.Join("..", "..", "deploy", "nats", "nats.conf"), t.TempDir(), env...)
	all := startNode(t, server.Config{DataDir: t.TempDir(), NATSURL: ns.URL,
		NATSUser: eventlog.CommandUser, NATSPassword: creds[eventlog.CommandUser].Password}, "")
	startNode(t, server.Config{DataDir: t.TempDir(), NodeRole: server.NodeRoleReplica, NATSURL: ns.URL,
		NATSUser: eventlog.ReplicaUser, NATSPassword: creds[eventlog.ReplicaUser].Password}, all.c.token)
	e := &attackEnv{url: ns.URL, creds: creds, token: all.c.token, node: all}
	runAttackSuite(t, e)

	// The follower user works with the shipped configuration: it restores
	// the suite's snapshot through the snapshot reads and follows the
	// readers' mirror through the mirror reads.
	t.Run("follower", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		role := all.c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "DeployPlayer",
			"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:MATCH", "action": 2}}})
		rev := num(all.c.must(http.StatusCreated, "POST", "/v1/namespaces/game/users/p1/roles",
			map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"game"}})["revision"])
		f, err := sdk.NewFollower(ctx, sdk.FollowerConfig{URL: ns.URL, User: eventlog.FollowerUser,
			Password: creds[eventlog.FollowerUser].Password, Dir: t.TempDir(), CacheSize: 4 << 20, MemTableSize: 4 << 20,
			Logger: testutil.Quiet})
		require.NoError(t, err)
		defer func() { require.NoError(t, f.Close()) }()
		assert.Positive(t, f.RestoredFrom(), "restored the snapshot through the shipped configuration")
		require.NoError(t, f.WaitFor(ctx, rev))
		res, err := f.Check(ctx, &sdk.CheckRequest{Subject: sdk.Subject{Type: "user", ID: "p1"}, Namespace: "game",
			Resource: "NAMESPACE:game:MATCH", Action: 2})
		require.NoError(t, err)
		assert.True(t, res.Allowed)
	})
	injectionControl(t, e)
}

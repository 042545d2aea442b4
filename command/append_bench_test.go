package command_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/perm"
)

// BenchmarkCommands measures single commands (AssignRole, each writer in
// its own namespace) through a command service on the real stream with
// fsync on every write, by concurrent writers, with group commit on
// (default settings) and off. ns/op is per command, all writers together.
func BenchmarkCommands(b *testing.B) {
	for _, mode := range []string{"group", "nogroup"} {
		for _, writers := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("%s/writers=%d", mode, writers), func(b *testing.B) {
				ctx := context.Background()
				log := testutil.StartLog(b, b.TempDir())
				node := testutil.StartNodeWith(b, log, b.TempDir(), func(c *command.Config) { c.NoGroupCommit = mode == "nogroup" })
				role, _, err := node.Commands.CreateRole(ctx, testutil.Root(), command.CreateRole{RoleID: "r",
					RoleName: "R", Permissions: []perm.Permission{{Resource: "NAMESPACE:{namespace}:ITEM", Action: perm.Read}}})
				if err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				var wg sync.WaitGroup
				for w := range writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ns := fmt.Sprintf("w%d", w)
						for i := w; i < b.N; i += writers {
							if _, err := node.Commands.AssignRole(ctx, testutil.Root(), ns, fmt.Sprintf("u%d", i), role.RoleID, []string{ns}); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				st := node.Commands.GroupCommitStats()
				if st.Batches > 0 {
					b.ReportMetric(float64(st.Batched)/float64(st.Batches), "events/batch")
				}
			})
		}
	}
}

// BenchmarkExpectedLastSubjectSequence measures one append expecting its
// namespace's last revision (the wildcard filter prefix.ns.>) when the
// namespace already holds n events, without fsync, in both subject
// layouts: "aggregate", the layout before events.Subject (a subject per
// user: the server finds the filter's last message by walking every
// subject of the namespace), and "kind", the current one (a subject per
// kind of event).
func BenchmarkExpectedLastSubjectSequence(b *testing.B) {
	for _, layout := range []string{"aggregate", "kind"} {
		for _, n := range []int{10, 1_000, 100_000} {
			b.Run(fmt.Sprintf("layout=%s/subjects=%d", layout, n), func(b *testing.B) {
				if n > 1_000 && os.Getenv("GRANTLOG_BENCH_HEAVY") != "1" {
					b.Skip("set GRANTLOG_BENCH_HEAVY=1 to run (100k events)")
				}
				ctx := context.Background()
				log := testutil.StartLogWith(b, b.TempDir(), false)
				subject := func(i int) string {
					if layout == "aggregate" {
						return events.AggregateSubject(events.DefaultSubjectPrefix, "big", events.KindUser, fmt.Sprintf("u%d", i))
					}
					return events.Subject(events.DefaultSubjectPrefix, "big", events.KindUser)
				}
				for i := 0; i < n; i += 1000 {
					var futures []jetstream.PubAckFuture
					for j := i; j < min(i+1000, n); j++ {
						f, err := log.JS.PublishAsync(subject(j), []byte(`{"x":1}`))
						if err != nil {
							b.Fatal(err)
						}
						futures = append(futures, f)
					}
					for _, f := range futures {
						select {
						case <-f.Ok():
						case err := <-f.Err():
							b.Fatal(err)
						}
					}
				}
				info, err := log.Stream.Info(ctx)
				if err != nil {
					b.Fatal(err)
				}
				last := info.State.LastSeq
				filter := events.NamespaceFilter(events.DefaultSubjectPrefix, "big")
				b.ResetTimer()
				for i := range b.N {
					m := nats.NewMsg(subject(i))
					m.Data = []byte(`{"x":1}`)
					m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(last, 10))
					m.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, filter)
					ack, err := log.JS.PublishMsg(ctx, m)
					if err != nil {
						b.Fatal(err)
					}
					last = ack.Sequence
				}
			})
		}
	}
}

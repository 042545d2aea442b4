package command

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
)

// BenchmarkAppendRaw measures the stream alone, fsync on every write, on
// the embedded one-replica server: one event per publish, and atomic
// batches of events in distinct namespaces, each expecting its
// namespace's last revision (what a group commit appends). The figure is
// per event.
func BenchmarkAppendRaw(b *testing.B) {
	for _, size := range []int{1, 8, 64, 256} {
		b.Run(fmt.Sprintf("events=%d", size), func(b *testing.B) {
			l := startTestLog(b, b.TempDir())
			appendRaw(b, l.js, size)
		})
	}
}

// BenchmarkAppendRawR3 is BenchmarkAppendRaw on a three-node cluster in
// this process (fsync on every write, the stream replicated three times),
// where the server stages an atomic batch in memory.
func BenchmarkAppendRawR3(b *testing.B) {
	heavyBench(b)
	for _, size := range []int{1, 8, 64, 256} {
		b.Run(fmt.Sprintf("events=%d", size), func(b *testing.B) {
			js := startCluster(b)
			appendRaw(b, js, size)
		})
	}
}

func appendRaw(b *testing.B, js jetstream.JetStream, size int) {
	ctx := context.Background()
	last := make([]uint64, size)
	b.ResetTimer()
	for i := 0; i < b.N; i += size {
		msgs := make([]*nats.Msg, size)
		for j := range msgs {
			ns := fmt.Sprintf("bench%d", j)
			m := nats.NewMsg(events.Subject(events.DefaultSubjectPrefix, ns, "user"))
			m.Data = []byte(`{"x":1}`)
			m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("%d-%d", i, j))
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(last[j], 10))
			m.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, events.NamespaceFilter(events.DefaultSubjectPrefix, ns))
			msgs[j] = m
		}
		if size == 1 {
			ack, err := js.PublishMsg(ctx, msgs[0])
			if err != nil {
				b.Fatal(err)
			}
			last[0] = ack.Sequence
			continue
		}
		ack, err := jetstreamext.PublishMsgBatch(ctx, js, msgs, jetstreamext.BatchFlowControl{})
		if err != nil {
			b.Fatal(err)
		}
		for j := range last {
			last[j] = ack.Sequence - uint64(size-1-j)
		}
	}
}

// startCluster starts three JetStream servers clustered over loopback
// (free ports), fsync on every write, with the event stream at three
// replicas, and returns a client of the first.
func startCluster(b testing.TB) jetstream.JetStream {
	b.Helper()
	ports := make([]int, 3)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	var servers []*server.Server
	for i, p := range ports {
		ns, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: -1, JetStream: true,
			StoreDir: b.TempDir(), SyncAlways: true, NoSigs: true, NoLog: true,
			Cluster: server.ClusterOpts{Name: "bench", Host: "127.0.0.1", Port: p},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
		})
		if err != nil {
			b.Fatal(err)
		}
		go ns.Start()
		servers = append(servers, ns)
		b.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	}
	for _, ns := range servers {
		if !ns.ReadyForConnections(10 * time.Second) {
			b.Fatal("server not ready")
		}
	}
	nc, err := nats.Connect(servers[0].ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = js.CreateStream(ctx, eventlog.StreamConfig(eventlog.DefaultStream, events.DefaultSubjectPrefix, 3))
		cancel()
		if err == nil {
			return js
		}
		if time.Now().After(deadline) {
			b.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// BenchmarkCommitter measures appends of single events by concurrent
// writers (each its own namespace, expecting its last revision) through
// a committer with batches from two events ("group") and without one
// ("alone"), on the embedded one-replica server and on a three-node
// cluster. ns/op is per event, all writers together.
func BenchmarkCommitter(b *testing.B) {
	for _, where := range []string{"R1", "R3"} {
		for _, mode := range []string{"alone", "group"} {
			for _, writers := range []int{1, 8, 64} {
				b.Run(fmt.Sprintf("%s/%s/writers=%d", where, mode, writers), func(b *testing.B) {
					var js jetstream.JetStream
					if where == "R3" {
						heavyBench(b)
						js = startCluster(b)
					} else {
						js = startTestLog(b, b.TempDir()).js
					}
					c := newCommitter(js, 2)
					ctx := context.Background()
					b.ResetTimer()
					var wg sync.WaitGroup
					for w := range writers {
						wg.Add(1)
						go func() {
							defer wg.Done()
							ns := fmt.Sprintf("w%d", w)
							var last uint64
							for i := w; i < b.N; i += writers {
								m := event(ns, fmt.Sprintf("%d", i), last)
								var ack *jetstream.PubAck
								var err error
								if mode == "group" {
									ack, err = c.append(ctx, m)
								} else {
									ack, err = js.PublishMsg(ctx, m)
								}
								if err != nil {
									b.Error(err)
									return
								}
								last = ack.Sequence
							}
						}()
					}
					wg.Wait()
					b.StopTimer()
					if n := c.stats.batches.Load(); n > 0 {
						b.ReportMetric(float64(c.stats.batched.Load())/float64(n), "events/batch")
					}
				})
			}
		}
	}
}

// heavyBench skips a benchmark that starts a three-node cluster or fills
// 100k subjects unless GRANTLOG_BENCH_HEAVY=1: CI's one-iteration
// benchmark run (.ci/run) only proves the others still run.
func heavyBench(b *testing.B) {
	b.Helper()
	if os.Getenv("GRANTLOG_BENCH_HEAVY") != "1" {
		b.Skip("set GRANTLOG_BENCH_HEAVY=1 to run (three-node cluster or 100k subjects)")
	}
}

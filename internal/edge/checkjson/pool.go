package checkjson

import (
	"sync"

	"github.com/grantlog/grantlog/query"
)

// Buffers is the reusable memory of one batch check on a server: the
// request's bytes, the decoded request, the answer and its encoding.
type Buffers struct {
	In, Out []byte
	Req     query.BatchRequest
	Res     query.BatchResult
}

// maxPooled bounds the bytes a pooled Buffers keeps (a request larger than
// the servers' 1 MiB limit never reaches it; an answer may be some larger).
const maxPooled = 4 << 20

var pool = sync.Pool{New: func() any { return new(Buffers) }}

// GetBuffers returns Buffers from the pool; Release them when the answer is
// sent.
func GetBuffers() *Buffers {
	if b, ok := pool.Get().(*Buffers); ok {
		return b
	}
	return new(Buffers)
}

// Release returns b to the pool (dropping its references to requests and
// answers), unless a large batch grew it. b must not be used afterwards.
func (b *Buffers) Release() {
	if cap(b.In) > maxPooled || cap(b.Out) > maxPooled || cap(b.Req.Checks) > 2*query.MaxBatch {
		return
	}
	clear(b.Req.Checks)
	clear(b.Res.Results)
	b.In, b.Out = b.In[:0], b.Out[:0]
	b.Req = query.BatchRequest{Checks: b.Req.Checks[:0]}
	b.Res = query.BatchResult{Results: b.Res.Results[:0]}
	pool.Put(b)
}

package server

import (
	"runtime/debug"
	"sync"
)

// Loading the index builds what it keeps: the users' records, and the
// users map sized once from a count the index stores. A collection during
// it marks a heap that only grows (at ten million users, up to 1.8 GiB,
// several times over) and frees little. So a node holds the collector's
// pacing off while it loads (debug.SetGCPercent(-1)); a memory limit
// (GOMEMLIMIT) still holds, the runtime collecting as the heap nears it,
// and after the load the heap is past the restored target, so a
// collection follows at once.
//
// The setting is the process's: opens that overlap (servers in one test
// process) share one hold, and the last to finish restores it.
var loadGC struct {
	sync.Mutex
	holders int
	prev    int
}

// holdGC holds collections back until the returned func is called.
func holdGC() (release func()) {
	loadGC.Lock()
	if loadGC.holders == 0 {
		loadGC.prev = debug.SetGCPercent(-1)
	}
	loadGC.holders++
	loadGC.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			loadGC.Lock()
			defer loadGC.Unlock()
			loadGC.holders--
			if loadGC.holders == 0 {
				debug.SetGCPercent(loadGC.prev)
			}
		})
	}
}

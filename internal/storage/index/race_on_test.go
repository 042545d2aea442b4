//go:build race

package index

// raceEnabled: the race detector shadows memory, so heap figures mean
// nothing under it (TestMemoryPerUser).
const raceEnabled = true

package client

// Refused returns how many messages of the stream the follower refused to
// apply (not written by the command side: unsigned or badly signed after
// the log's first signing key, or replayed), with the revision and reason
// of the last one. Refused messages are skipped; the follower goes on.
func (f *Follower) Refused() (count, lastRevision uint64, reason string) { return f.proj.Refused() }

// Halted returns why the follower stopped applying events, or "" while it
// applies: the stream holds an event type newer than this binary (upgrade
// it). A halted follower is not Ready; it retries periodically and keeps
// answering checks at the revision it reached.
func (f *Follower) Halted() string {
	if h := f.proj.Halted(); h != nil {
		return h.Reason
	}
	return ""
}

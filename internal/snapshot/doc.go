// Package snapshot stores Pebble checkpoints of the permission index in a
// JetStream Object Store, so that a new or broken replica starts from the
// newest snapshot plus the tail of the event stream instead of replaying
// everything (PRODUCT.md §2, issue 4 item 5).
//
// A snapshot is one object named index-<revision>.tar.gz: a gzipped tar of
// a checkpoint's files (flat, relative paths), with object metadata
//
//	revision       applied revision the checkpoint holds (decimal)
//	pebble-format  Pebble format major version of the database (decimal)
//	layout         index key layout version (index.LayoutVersion)
//	created-at     RFC 3339 time the snapshot was taken (UTC)
//	node           name of the node that took it
//
// The bucket (DefaultBucket unless configured) is created on first Take
// with file storage. Take keeps the newest snapshots (DefaultKeep unless
// configured) and deletes older ones. Restore refuses a snapshot written by
// a newer binary (newer Pebble format or another key layout) with
// ErrIncompatible, and a tar entry that would land outside the target
// directory with ErrUnsafeArchive.
//
// Take, Restore, Latest and List are safe for concurrent use; a Snapshotter
// serializes its own snapshots.
package snapshot

// Package eventlog is where Grantlog's state lives in NATS JetStream: the
// stream that holds every event, the readers' mirror of it, the embedded
// NATS server of a single-machine deployment (accounts, users,
// credentials), and the snapshots of the permission index kept beside the
// stream.
//
// # Event stream
//
// StreamConfig and EnsureStream set up the event stream (DefaultStream);
// EnsureReaderMirror and OpenReaderMirror the readers' mirror
// (ReaderStream). AccountsConfig renders the NATS accounts that separate
// the command side from readers (deploy/nats/nats.conf is generated from
// it); StartEmbedded runs that design in-process.
//
// # Snapshots
//
// Snapshots are Pebble checkpoints of the permission index in a JetStream
// Object Store, so that a new or broken replica starts from the newest
// snapshot plus the tail of the event stream instead of replaying
// everything (PRODUCT.md §2, issue 4 item 5).
//
// A snapshot is one object named index-<revision>.tar.gz
// (SnapshotObjectName): a zstd-compressed tar of a checkpoint's files (flat,
// relative paths; the name is kept from when it was gzip, and gzip
// archives of earlier binaries still restore), with object metadata (the SnapshotMeta* keys)
//
//	revision       applied revision the checkpoint holds (decimal)
//	pebble-format  Pebble format major version of the database (decimal)
//	layout         index key layout version (index.LayoutVersion)
//	created-at     RFC 3339 time the snapshot was taken (UTC)
//	node           name of the node that took it
//	manifest       the signed SnapshotManifest, and manifest-sig its signature
//
// The bucket (DefaultSnapshotBucket unless configured) is created on the
// first TakeSnapshot with file storage. TakeSnapshot keeps the newest
// snapshots (DefaultSnapshotKeep unless configured) and deletes older
// ones. RestoreSnapshotForStream refuses an unsigned or forged snapshot, or
// one whose history differs from the stream's (errors wrapping
// ErrSnapshotRefused), a snapshot written by a newer binary (newer Pebble
// format or another key layout) with ErrSnapshotIncompatible, and a tar
// entry that would land outside the target directory with
// ErrUnsafeArchive.
//
// TakeSnapshot, RestoreSnapshotForStream, LatestSnapshot and ListSnapshots
// are safe for concurrent use; a Snapshotter serializes its own snapshots.
//
// # Backups
//
// Backup writes a deployment's event stream, snapshot bucket and sealed
// signing key (JetStream stream snapshots, taken by the embedded server's
// own user on BackupSubject) and an authenticated BackupManifest into a
// directory; Restore verifies all of it (ErrBackupTampered) before it
// restores the streams into a new data directory through JetStream's
// restore API. backup.go explains the layout, backup_service.go why no
// user may call the snapshot API.
//
// # Tier
//
// Tier 1 (storage). eventlog may import tier 0 (events, perm) and the
// other storage packages (internal/storage/index, internal/storage/logsig),
// never a domain package (command, query, projector, audit, internal/auth),
// an edge, internal/server, client, cmd, examples or a test-support
// package. internal/arch enforces this.
package eventlog

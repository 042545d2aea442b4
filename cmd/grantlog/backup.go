package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/grantlog/grantlog/internal/storage/eventlog"
)

// grantlog backup and grantlog restore (internal/storage/eventlog/backup*.go).

// passphraseFlags are the two ways to give a backup's passphrase.
type passphraseFlags struct{ file string }

func (p *passphraseFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.file, "passphrase-file", "",
		"file whose first line is the backup's passphrase (at least 12 bytes; it seals the log signing key and authenticates the manifest). Or set GRANTLOG_BACKUP_PASSPHRASE")
}

// read returns the passphrase: the file's first line, else the variable.
func (p *passphraseFlags) read() ([]byte, error) {
	if p.file != "" {
		raw, err := os.ReadFile(p.file)
		if err != nil {
			return nil, usageErr("--passphrase-file: %v", err)
		}
		line, _, _ := bytes.Cut(raw, []byte("\n"))
		return bytes.TrimRight(line, "\r"), nil
	}
	if v := os.Getenv("GRANTLOG_BACKUP_PASSPHRASE"); v != "" {
		return []byte(v), nil
	}
	return nil, usageErr("give the backup's passphrase with --passphrase-file FILE or GRANTLOG_BACKUP_PASSPHRASE")
}

func (c *cli) backupCmd() *cobra.Command {
	var to, natsURL, creds, dataDir string
	var pass passphraseFlags
	cmd := &cobra.Command{
		Use:   "backup --to DIR",
		Short: "Back up a running deployment: the event stream, the index checkpoints and the signing key",
		Long: `Back up a running deployment into DIR (absent or empty): the event stream
through JetStream's stream snapshot API, the snapshot bucket (the index
checkpoints; take one first with "grantlog snapshot take" for a short
replay after restore), the log signing key sealed under the passphrase,
and manifest.json (revisions, message count, each file's SHA-256,
authenticated with the passphrase).

It connects to the deployment's NATS with the command credential,
<data-dir>/nats-command.creds: the only credential that may read all of
it (docs/SECURITY.md). The client, replica and follower credentials are
refused. Progress goes to stderr; the manifest, as JSON, to stdout.`,
		Example: `  grantlog backup --to backups/2026-11-30 --passphrase-file backup-pass \
      --nats-url nats://127.0.0.1:4222 --nats-creds grantlog-data/nats-command.creds`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := pass.read()
			if err != nil {
				return err
			}
			if creds == "" {
				creds = filepath.Join(dataDir, eventlog.CommandCredsFile)
			}
			// A credential that may not ask is told at once: the server's
			// permission violation ends the backup.
			ctx, cancel := context.WithCancelCause(cmd.Context())
			defer cancel(nil)
			nc, err := eventlog.Connect(eventlog.ConnectConfig{URL: natsURL, CredsFile: creds, Name: "grantlog-backup",
				Options: []nats.Option{nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
					if errors.Is(err, nats.ErrPermissionViolation) {
						cancel(err)
					}
				})}})
			if err != nil {
				return &exitError{code: exitRefused, msg: err.Error()}
			}
			defer nc.Close()
			m, err := eventlog.Backup(ctx, eventlog.BackupConfig{Conn: nc, Dir: to, Passphrase: p, Version: version, Progress: c.stderr})
			if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
				err = fmt.Errorf("%w (%w)", err, cause)
			}
			if err != nil {
				return &exitError{code: exitRefused, msg: err.Error()}
			}
			fmt.Fprintf(c.stderr, "backup: %s holds revisions %d-%d (%d events), index checkpoint at revision %d\n",
				to, m.FirstRevision, m.LastRevision, m.Messages, m.CheckpointRevision)
			return c.printManifest(m)
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the backup directory (absent or empty)")
	cmd.Flags().StringVar(&natsURL, "nats-url", envOr("GRANTLOG_NATS_URL", "nats://127.0.0.1:4222"),
		"the deployment's NATS: a node's embedded server (its --nats-listen) or the external one (env GRANTLOG_NATS_URL)")
	cmd.Flags().StringVar(&creds, "nats-creds", os.Getenv("GRANTLOG_NATS_CREDS"),
		"the command credential (default <data-dir>/nats-command.creds) (env GRANTLOG_NATS_CREDS)")
	cmd.Flags().StringVar(&dataDir, "data-dir", envOr("GRANTLOG_DATA_DIR", "grantlog-data"),
		"the data directory of the node whose nats-command.creds to use (env GRANTLOG_DATA_DIR)")
	pass.add(cmd)
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

func (c *cli) restoreCmd() *cobra.Command {
	var from, dataDir string
	var verifyOnly bool
	var pass passphraseFlags
	cmd := &cobra.Command{
		Use:   "restore --from DIR --data-dir NEW",
		Short: "Restore a backup into a new data directory",
		Long: `Restore the backup in DIR into a new, empty data directory, then serve it
with "grantlog serve --data-dir NEW".

It first verifies the whole backup: the manifest's MAC under the
passphrase, every file's size and SHA-256, and that the sealed signing key
opens. A backup that fails is refused and nothing is written. Then it
starts NATS on the new data directory (no listener) and restores each
stream through JetStream's restore API: the stream's own files, so every
revision, timestamp, signature and hash chain is kept as it was. The new
node's index starts from the backup's newest checkpoint and replays the
events after it. Tokens, clients and the bootstrap token work as before;
the NATS credentials of the new data directory are new.

--verify-only checks the backup and restores nothing. Progress goes to
stderr; the manifest, as JSON, to stdout.`,
		Example: `  grantlog restore --from backups/2026-11-30 --data-dir grantlog-data-restored --passphrase-file backup-pass
  grantlog serve --data-dir grantlog-data-restored`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := pass.read()
			if err != nil {
				return err
			}
			if verifyOnly {
				m, err := eventlog.VerifyBackup(from, p)
				if err != nil {
					return &exitError{code: exitRefused, msg: err.Error()}
				}
				fmt.Fprintf(c.stderr, "restore: %s verifies: revisions %d-%d (%d events), index checkpoint at revision %d\n",
					from, m.FirstRevision, m.LastRevision, m.Messages, m.CheckpointRevision)
				return c.printManifest(m)
			}
			if dataDir == "" {
				return usageErr("--data-dir is required (a new, empty directory), unless --verify-only")
			}
			start := time.Now()
			m, err := eventlog.Restore(cmd.Context(), eventlog.RestoreConfig{From: from, DataDir: dataDir, Passphrase: p, SyncAlways: true, Progress: c.stderr})
			if err != nil {
				if errors.Is(err, eventlog.ErrBackupTampered) {
					err = fmt.Errorf("%w; nothing was restored", err)
				}
				return &exitError{code: exitRefused, msg: err.Error()}
			}
			fmt.Fprintf(c.stderr, "restore: %s holds revisions %d-%d (%d events) in %s; start it with: grantlog serve --data-dir %s\n",
				dataDir, m.FirstRevision, m.LastRevision, m.Messages, time.Since(start).Round(time.Millisecond), dataDir)
			return c.printManifest(m)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the backup directory")
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "the new data directory (absent or empty)")
	cmd.Flags().BoolVar(&verifyOnly, "verify-only", false, "verify the backup, restore nothing")
	pass.add(cmd)
	_ = cmd.MarkFlagRequired("from")
	return cmd
}

// printManifest writes the manifest (without the streams'
// configurations) in the output format.
func (c *cli) printManifest(m eventlog.BackupManifest) error {
	for i := range m.Files {
		m.Files[i].Config = nil
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return c.print(raw)
}

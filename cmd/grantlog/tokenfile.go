package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/grantlog/grantlog/internal/auth"
)

// bootstrapTokenCmd prints the bootstrap token of a data directory: the
// way to read it out of an image without a shell or cat (deploy/Dockerfile
// is FROM scratch), e.g. kubectl exec POD -- /grantlog bootstrap token.
func (c *cli) bootstrapTokenCmd() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print the bootstrap token written to <data-dir>/bootstrap-token (on the node that created the stream)",
		Long: `Print the bootstrap token that the node which created the stream wrote
to <data-dir>/bootstrap-token (mode 0600). Reads the file only: it talks to
no server. Made for images without a shell or cat:

  docker compose exec command-a /grantlog bootstrap token
  kubectl exec deploy/grantlog-command -- /grantlog bootstrap token

Other nodes have no such file: the credential itself lives (hashed) in the
event log, and every node accepts it.`,
		Example: "  grantlog bootstrap token --data-dir /data",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			p := filepath.Join(dataDir, auth.BootstrapTokenFile)
			raw, err := os.ReadFile(p)
			if errors.Is(err, fs.ErrNotExist) {
				return &exitError{code: exitRefused, msg: fmt.Sprintf("no %s: only the node that created the stream (or one started with --reset-bootstrap-token) writes it; the data directory is --data-dir (env GRANTLOG_DATA_DIR)", p)}
			}
			if err != nil {
				return &exitError{code: exitRefused, msg: err.Error()}
			}
			tok := strings.TrimSpace(string(raw))
			if tok == "" {
				return &exitError{code: exitRefused, msg: p + " is empty"}
			}
			fmt.Fprintln(c.stdout, tok)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", envOr("GRANTLOG_DATA_DIR", "grantlog-data"), "the node's data directory (env GRANTLOG_DATA_DIR)")
	return cmd
}

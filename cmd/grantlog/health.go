package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// defaultHealthURL is what grantlog health probes without --url: the
// readiness of a node serving on the default port of the images.
const defaultHealthURL = "http://127.0.0.1:8080/readyz"

// exitUnhealthy is grantlog health's status for a node that is not
// healthy (Docker's HEALTHCHECK: 0 healthy, 1 unhealthy).
const exitUnhealthy = 1

// healthCmd probes a node's /readyz (or /healthz) and exits 0 when it
// answers 2xx, 1 otherwise: a health check for images without a shell or
// curl (deploy/Dockerfile is FROM scratch), run in exec form.
func (c *cli) healthCmd() *cobra.Command {
	var target string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Probe a node's /readyz: exit 0 when it answers 2xx, 1 otherwise (container health checks)",
		Long: `Probe a node's readiness (GET /readyz, no credential) and exit 0 when it
answers 2xx, 1 when it answers anything else or cannot be reached within
--timeout. It prints the status and the answer's first line. Made for
health checks of images without a shell or curl, in exec form:

  healthcheck: {test: ["CMD", "/grantlog", "health"]}

--url http://127.0.0.1:8080/healthz probes liveness instead (the process
serves HTTP) rather than readiness (caught up with the stream).`,
		Example: "  grantlog health\n  grantlog health --url http://127.0.0.1:8081/healthz --timeout 1s",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, err := url.Parse(target)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return usageErr("--url %q: give an http:// or https:// URL, such as %s", target, defaultHealthURL)
			}
			if timeout <= 0 {
				return usageErr("--timeout %v: give a positive duration, such as 3s", timeout)
			}
			return c.probe(cmd.Context(), u.String(), timeout)
		},
	}
	cmd.Flags().StringVar(&target, "url", defaultHealthURL, "the URL to GET")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	return cmd
}

// probe GETs target once; redirects are not followed (a 3xx is not
// healthy).
func (c *cli) probe(ctx context.Context, target string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, http.NoBody)
	if err != nil {
		return usageErr("--url %q: %v", target, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return &exitError{code: exitUnhealthy, msg: fmt.Sprintf("health: %s: no answer within %v", target, timeout)}
		}
		return &exitError{code: exitUnhealthy, msg: fmt.Sprintf("health: %s: %v", target, err)}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	first, _, _ := strings.Cut(strings.TrimSpace(string(raw)), "\n")
	fmt.Fprintf(c.stdout, "%d %s\n", resp.StatusCode, first)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &exitError{code: exitUnhealthy, msg: fmt.Sprintf("health: %s answered %s", target, resp.Status)}
	}
	return nil
}

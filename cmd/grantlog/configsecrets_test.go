package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestReview2ConfigCheckURLPassword: NATS URLs carry credentials
// (nats://user:password@host, which nats.go uses); config check prints
// nats-url verbatim, so the password a file or GRANTLOG_NATS_URL holds is
// printed (and serve's start line "external <url>" prints it too).
func TestConfigCheckRedactsURLPassword(t *testing.T) {
	clearServeEnv(t)
	path := writeConfig(t, "nats-url: nats://command:hunter2-url-secret@nats.internal:4222\n")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"config", "check", path}, &out, &errOut)
	assert.Equal(t, exitOK, code, errOut.String())
	assert.NotContains(t, out.String()+errOut.String(), "hunter2-url-secret")
}

// TestReview2ConfigOneShotReset: reset-bootstrap-token revokes the
// bootstrap credential and every token it issued (transitively) at start,
// "for one start only"; a config file persists it, so every restart of the
// pod revokes them again. config check accepts it silently.
func TestConfigRefusesOneShotReset(t *testing.T) {
	clearServeEnv(t)
	path := writeConfig(t, "reset-bootstrap-token: true\n")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"config", "check", path}, &out, &errOut)
	if code == exitOK && !bytes.Contains(append(out.Bytes(), errOut.Bytes()...), []byte("one start")) {
		t.Fatalf("config check accepts reset-bootstrap-token: true in a file without a word:\n%s", out.String())
	}
}

package testpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable holding the server URL, e.g.
// postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable.
const EnvURL = "SITEPULSE_TEST_DATABASE_URL"

// URL returns the test server's URL. When it is not set, URL fails the test
// if CI=true and skips it otherwise.
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvURL)
	if u != "" {
		return u
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal(EnvURL + " not set under CI=true: .ci/run must start PostgreSQL")
	}
	tb.Skip(EnvURL + " not set")
	return ""
}

// NewDatabase creates an empty database with a unique name on the test
// server, drops it when the test ends, and returns its URL. Tests in
// parallel packages therefore never see each other's tables.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	base := URL(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("testpg: connect %s: %v", redact(base), err)
	}
	defer admin.Close(context.Background())

	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		tb.Fatalf("testpg: %v", err)
	}
	name := "sitepulse_test_" + hex.EncodeToString(rnd[:])
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		tb.Fatalf("testpg: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("testpg: drop database %s: connect: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		// FORCE ends connections a test left open (a pool not yet closed).
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			tb.Errorf("testpg: drop database %s: %v", name, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("testpg: parse %s: %v", EnvURL, err)
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// redact hides a password in a URL for error messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

//go:build linux

package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
)

// mountTmpfs mounts a tmpfs of size bytes on a new temp dir and returns
// it. Where mounting is not permitted (no root, no CAP_SYS_ADMIN) the test
// is skipped, except under CI=true on a native architecture, which is meant
// to run it; under qemu user emulation (GOARCH=arm in make test-arm) it is
// only skipped.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		native := runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64"
		if os.Getenv("CI") == "true" && native {
			t.Fatalf("mount a tmpfs for the full-disk test: %v (CI runs as root)", err)
		}
		t.Skipf("cannot mount a tmpfs here (%v); TestOutboxCloseGivesUpWhenCommitsKeepFailing covers the same path with an injected fault", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes to path until the filesystem has no space left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []int{64 << 10, 4 << 10, 512, 1} {
		b := make([]byte, chunk)
		for {
			if _, err := f.Write(b); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("fill %s: %v", path, err)
				}
				break
			}
		}
	}
}

// recordUntilFull records events until a commit fails; it returns the
// pending flush, which ends when a commit succeeds again or the outbox
// gives up.
func recordUntilFull(t *testing.T, ob *outbox, logs *testkit.LogBuffer, from int) (flushed <-chan error) {
	t.Helper()
	ctx := context.Background()
	failures := strings.Count(logs.String(), "outbox commit failed")
	for round := 0; round < 1000; round++ {
		cs := make([]change, 50)
		for i := range cs {
			s := testSession(from + round*len(cs) + i)
			s.User = strings.Repeat("u", 200) + s.User
			cs[i] = change{event: ev(protocol.EventSessionStarted, s, 0)}
		}
		if err := ob.record(ctx, cs...); err != nil {
			t.Fatal(err)
		}
		fl := make(chan error, 1)
		go func() { fl <- ob.flush(ctx) }()
		failed := func() bool { return strings.Count(logs.String(), "outbox commit failed") > failures }
		testkit.Eventually(t, 0, "a commit, or a failed one", func() bool { return len(fl) > 0 || failed() })
		if failed() {
			return fl
		}
		if err := <-fl; err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("50000 events committed on a full tmpfs")
	return nil
}

// The agent's database is on a small tmpfs that fills up: commits fail
// with SQLite's "disk is full", the outbox keeps every event and retries,
// commits them once space is back, and when the disk stays full a close
// returns once its context ends, naming the events it never committed.
func TestOutboxOnAFullDisk(t *testing.T) {
	dir := mountTmpfs(t, 1<<20)
	ctx := context.Background()
	db, err := openDB(ctx, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	logs := &testkit.LogBuffer{}
	ob, err := newOutbox(ctx, db, outboxConfig{Router: "r1", Logger: logs.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(dir, "filler")
	fill(t, filler)

	flushed := recordUntilFull(t, ob, logs, 0)
	if !logs.Contains("disk is full") {
		t.Fatalf("the failed commit was not a full disk:\n%s", logs.String())
	}
	// Space is back: the retry commits everything recorded, nothing lost.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "the retried commit", func() bool { return len(flushed) > 0 })
	if err := <-flushed; err != nil {
		t.Fatalf("flush after space came back: %v", err)
	}
	st := ob.stats(ctx)
	if st.Depth == 0 || uint64(st.Depth) != st.LastSeq {
		t.Fatalf("after the retry: %+v, want every recorded event pending", st)
	}

	// Full for good: close gives up once its context ends.
	fill(t, filler)
	recordUntilFull(t, ob, logs, 100_000)
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	closed := make(chan error, 1)
	start := time.Now()
	go func() { closed <- ob.close(cctx) }()
	select {
	case err = <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("close did not return within 10s of its 200ms context on a full disk")
	}
	t.Logf("close returned after %s: %v", time.Since(start).Round(time.Millisecond), err)
	if err == nil || !regexp.MustCompile(`[1-9][0-9]* events not committed`).MatchString(err.Error()) {
		t.Fatalf("close = %v, want the count of events not committed", err)
	}
	var pending int
	if _, serr := fmt.Sscanf(err.Error()[strings.Index(err.Error(), "; ")+2:], "%d committed events", &pending); serr != nil || pending < st.Depth {
		t.Errorf("close = %v, want it to name at least the %d committed events left to publish", err, st.Depth)
	}
}

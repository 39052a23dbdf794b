package testkit

import (
	"testing"
	"time"
)

// DefaultWait is how long Eventually waits when it is given no timeout: long
// enough for a loaded 2-core CI machine running the race detector.
const DefaultWait = 10 * time.Second

// pollEvery is the interval between two checks of a condition.
const pollEvery = 5 * time.Millisecond

// Eventually checks cond until it holds and returns how long that took, or
// fails tb with what it waited for once timeout passes (0 means
// DefaultWait). It is for conditions other goroutines or processes make
// true; code that only waits on time is tested with testing/synctest.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	tb.Helper()
	if timeout <= 0 {
		timeout = DefaultWait
	}
	start := time.Now()
	deadline := start.Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(pollEvery)
	}
	return time.Since(start)
}

// Never checks cond for the whole of d and fails tb with what if it ever
// holds: for "nothing happens" assertions, which cannot be shorter than the
// time they watch.
func Never(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			tb.Fatalf("%s happened within %s", what, d)
		}
		time.Sleep(pollEvery)
	}
}

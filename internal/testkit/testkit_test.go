package testkit

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestClockZeroValue(t *testing.T) {
	var c Clock
	if !c.Now().IsZero() {
		t.Fatalf("zero Clock reads %v", c.Now())
	}
	c.Advance(time.Hour)
	if got := c.Now(); got != (time.Time{}).Add(time.Hour) {
		t.Errorf("after Advance(1h) = %v", got)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c.Set(at)
	if got := c.Now(); !got.Equal(at) {
		t.Errorf("after Set = %v, want %v", got, at)
	}
}

func TestEventuallyWaitsForTheCondition(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 3 {
			time.Sleep(time.Millisecond)
			n.Add(1)
		}
	}()
	Eventually(t, 0, "three increments", func() bool { return n.Load() == 3 })
}

func TestLogBuffer(t *testing.T) {
	var l LogBuffer
	l.Logger().Debug("hello", "secret", "s3cr3t")
	if !l.Contains("s3cr3t") || !l.Contains("level=DEBUG") {
		t.Errorf("log = %q", l.String())
	}
}

func TestClockStep(t *testing.T) {
	c := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c.SetStep(time.Microsecond)
	a, b := c.Now(), c.Now()
	if !b.After(a) || b.Sub(a) != time.Microsecond {
		t.Errorf("readings %v then %v, want one microsecond apart", a, b)
	}
}

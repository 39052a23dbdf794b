package logfilter

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestMinLevel(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(MinLevel(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), slog.LevelWarn))
	log.With("part", "river").WithGroup("g").Info("routine")
	log.With("part", "river").WithGroup("g").Warn("worth seeing", "k", 1)
	got := buf.String()
	if strings.Contains(got, "routine") {
		t.Errorf("info record passed: %q", got)
	}
	if !strings.Contains(got, "worth seeing") || !strings.Contains(got, "part=river") || !strings.Contains(got, "g.k=1") {
		t.Errorf("warn record lost or its attrs/group dropped: %q", got)
	}
}

package sim_test

import (
	"testing"
	"time"

	"github.com/go-routeros/routeros/v3"

	"github.com/sitepulse/sitepulse/sim"
)

// BenchmarkPrintHotspotActive measures one full print of 1000 hotspot
// sessions through the real client.
func BenchmarkPrintHotspotActive(b *testing.B) {
	r := sim.New(sim.Config{HotspotSessions: 1000, Seed: 1, TrafficInterval: -1})
	if err := r.Start(b.Context(), "127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	c, err := routeros.DialTimeout(r.Addr(), "admin", "", 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for b.Loop() {
		rep, err := c.Run("/ip/hotspot/active/print")
		if err != nil || len(rep.Re) != 1000 {
			b.Fatalf("print: %d rows, %v", len(rep.Re), err)
		}
	}
}

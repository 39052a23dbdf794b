package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

// countTraffic adds a session's counter growth to the aggregate; a counter
// that went backwards (a reset) adds nothing.
func (r *router) countTraffic(old, cur [4]uint64) {
	r.trafficMu.Lock()
	defer r.trafficMu.Unlock()
	if cur[0] > old[0] {
		r.trafficIn += cur[0] - old[0]
	}
	if cur[1] > old[1] {
		r.trafficOut += cur[1] - old[1]
	}
}

// takeRates returns the subscriber traffic rates in bits/s since the last
// call (rx: from subscribers, tx: to them) and restarts the count. The
// first call only starts it.
func (r *router) takeRates(now time.Time) (rx, tx float64) {
	r.trafficMu.Lock()
	defer r.trafficMu.Unlock()
	if !r.trafficSince.IsZero() {
		if secs := now.Sub(r.trafficSince).Seconds(); secs > 0 {
			rx, tx = float64(r.trafficIn)*8/secs, float64(r.trafficOut)*8/secs
		}
	}
	r.trafficIn, r.trafficOut, r.trafficSince = 0, 0, now
	return rx, tx
}

// pollResources records router.resources now and every ResourcesInterval.
func (r *router) pollResources(ctx context.Context, cc *cmdConn, fail context.CancelCauseFunc) {
	t := time.NewTicker(r.cfg.ResourcesInterval)
	defer t.Stop()
	for {
		res, err := r.readResources(ctx, cc)
		if err != nil {
			if ctx.Err() == nil {
				fail(err)
			}
			return
		}
		res.RxBps, res.TxBps = r.takeRates(r.cfg.Now())
		r.mu.Lock()
		r.resources = res
		r.mu.Unlock()
		r.statusChanged()
		if err := r.ob.record(ctx, change{event: &protocol.Event{TS: r.cfg.Now().UTC(), Type: protocol.EventRouterResources, Resources: res}}); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *router) readResources(ctx context.Context, cc *cmdConn) (*protocol.Resources, error) {
	rep, err := cc.run(ctx, "/system/resource/print")
	if err != nil {
		return nil, fmt.Errorf("read /system/resource: %w", err)
	}
	idr, err := cc.run(ctx, "/system/identity/print")
	if err != nil {
		return nil, fmt.Errorf("read /system/identity: %w", err)
	}
	res := &protocol.Resources{}
	if len(rep.Re) > 0 {
		m := rep.Re[0].Map
		res.Version = m["version"]
		res.Board = m["board-name"]
		res.Architecture = m["architecture-name"]
		res.UptimeSeconds = int64(parseDuration(m["uptime"]) / time.Second)
		res.CPULoad = min(100, max(0, int(u64(m["cpu-load"]))))
		res.CPUCount = int(u64(m["cpu-count"]))
		res.FreeMemory = u64(m["free-memory"])
		res.TotalMemory = u64(m["total-memory"])
		res.FreeHDD = u64(m["free-hdd-space"])
		res.TotalHDD = u64(m["total-hdd-space"])
		if res.TotalMemory > 0 && res.FreeMemory > res.TotalMemory {
			res.FreeMemory = res.TotalMemory
		}
	}
	if len(idr.Re) > 0 {
		res.Identity = idr.Re[0].Map["name"]
	}
	return res, nil
}

package portal

import (
	"sync"
	"time"
)

// Limits bound what one device, phone or address may do at the portal.
// They are counted in memory per process. Zero fields select the defaults.
type Limits struct {
	// STKPushes per phone, per device MAC and per device IP (the hotspot's
	// $(ip)) within STKWindow. Default 3 in 10 minutes.
	STKPushes int
	STKWindow time.Duration
	// STKPerRemote bounds pushes per remote address (all devices behind a
	// hotspot's NAT share it) within STKWindow. Default 60.
	STKPerRemote int
	// VoucherFailures wrong codes from one MAC within VoucherLock lock that
	// MAC for VoucherLock. Default 5 and 15 minutes.
	VoucherFailures int
	VoucherLock     time.Duration
	// VoucherAttempts bounds attempts (right or wrong) per device IP
	// within VoucherLock, and VoucherPerRemote per remote address. Default
	// 20 and 200.
	VoucherAttempts  int
	VoucherPerRemote int
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.STKPushes, 3)
	defd(&l.STKWindow, 10*time.Minute)
	def(&l.STKPerRemote, 60)
	def(&l.VoucherFailures, 5)
	defd(&l.VoucherLock, 15*time.Minute)
	def(&l.VoucherAttempts, 20)
	def(&l.VoucherPerRemote, 200)
	return l
}

// window counts events per key within a sliding window.
type window struct {
	mu     sync.Mutex
	d      time.Duration
	hits   map[string][]time.Time
	pruned time.Time
}

func newWindow(d time.Duration) *window { return &window{d: d, hits: map[string][]time.Time{}} }

// recent drops key's events older than the window as of now and returns
// how many are left; caller holds mu.
func (w *window) recent(key string, now time.Time) int {
	h := w.hits[key]
	i := 0
	for i < len(h) && now.Sub(h[i]) >= w.d {
		i++
	}
	h = h[i:]
	if len(h) == 0 {
		delete(w.hits, key)
	} else {
		w.hits[key] = h
	}
	return len(h)
}

// sweep forgets idle keys now and then, so the map stays bounded by the
// keys active within one window.
func (w *window) sweep(now time.Time) {
	if now.Sub(w.pruned) < w.d {
		return
	}
	w.pruned = now
	for k := range w.hits {
		w.recent(k, now)
	}
}

// allow records an event for every key and reports true if each had fewer
// than max events in the window; when one is full nothing is recorded. An
// empty key is not counted.
func (w *window) allow(now time.Time, max int, keys ...string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sweep(now)
	for _, k := range keys {
		if k != "" && w.recent(k, now) >= max {
			return false
		}
	}
	for _, k := range keys {
		if k != "" {
			w.hits[k] = append(w.hits[k], now)
		}
	}
	return true
}

// count returns key's events in the window.
func (w *window) count(now time.Time, key string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.recent(key, now)
}

// add records an event for key and returns its count in the window.
func (w *window) add(now time.Time, key string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sweep(now)
	n := w.recent(key, now)
	w.hits[key] = append(w.hits[key], now)
	return n + 1
}

// limiter holds the portal's counters.
type limiter struct {
	l Limits
	// stk counts pushes under "phone:", "mac:", "ip:" keys; stkRemote per
	// remote address (a separate limit).
	stk, stkRemote *window
	// vFail counts wrong codes per MAC; vTry attempts per device IP and
	// remote address.
	vFail, vTry, vTryRemote *window
}

func newLimiter(l Limits) *limiter {
	l = l.withDefaults()
	return &limiter{l: l, stk: newWindow(l.STKWindow), stkRemote: newWindow(l.STKWindow),
		vFail: newWindow(l.VoucherLock), vTry: newWindow(l.VoucherLock), vTryRemote: newWindow(l.VoucherLock)}
}

func keyed(prefix, v string) string {
	if v == "" {
		return ""
	}
	return prefix + v
}

// allowSTK counts a push for phone, mac, ip and remote; false when one of
// them is over its limit.
func (l *limiter) allowSTK(now time.Time, phone, mac, ip, remote string) bool {
	if !l.stkRemote.allow(now, l.l.STKPerRemote, keyed("r:", remote)) {
		return false
	}
	return l.stk.allow(now, l.l.STKPushes, keyed("phone:", phone), keyed("mac:", mac), keyed("ip:", ip))
}

// macLocked reports whether mac made too many wrong voucher attempts.
func (l *limiter) macLocked(now time.Time, mac string) bool {
	return mac != "" && l.vFail.count(now, mac) >= l.l.VoucherFailures
}

// allowVoucher counts an attempt from ip and remote.
func (l *limiter) allowVoucher(now time.Time, ip, remote string) bool {
	if !l.vTryRemote.allow(now, l.l.VoucherPerRemote, keyed("r:", remote)) {
		return false
	}
	return l.vTry.allow(now, l.l.VoucherAttempts, keyed("ip:", ip))
}

// voucherFailed counts a wrong code from mac and reports whether that
// locked it.
func (l *limiter) voucherFailed(now time.Time, mac string) bool {
	if mac == "" {
		return false
	}
	return l.vFail.add(now, mac) >= l.l.VoucherFailures
}

// Package sim is a RouterOS API simulator for tests, demos and benchmarks.
//
// A Router speaks the RouterOS API wire protocol over TCP (or TLS) well enough
// that the real go-routeros client cannot tell it from a RouterOS 7 device for
// everything SitePulse uses: login, tagged concurrent commands, /cancel,
// print with .proplist and queries, !empty, listen, print =interval=, and the
// hotspot, PPP, interface and system menus. A seeded scenario engine logs
// hotspot users and PPP secrets in and out and grows their traffic counters,
// deterministically for a given seed, and test hooks let callers drive it
// directly and observe every change as ground truth.
package sim

// Package sim is a RouterOS API simulator for tests, demos and benchmarks.
//
// A Router speaks the RouterOS API wire protocol over TCP (or TLS) well enough
// that the real go-routeros client cannot tell it from a RouterOS 7 device for
// everything SitePulse uses: login (post-6.43 and the old challenge), tagged
// concurrent commands, /cancel, /quit and !fatal, print with .proplist,
// ?-queries, count-only, follow and =interval=, !empty (RouterOS >= 7.18,
// switchable off), listen, and the menus /ip/hotspot/active, /ip/hotspot/user,
// /ip/hotspot/user/profile, /ppp/active, /ppp/secret, /ppp/profile,
// /interface, /system/resource and /system/identity. Menus are data
// (menuSpec): a new menu with its attributes, defaults, unique key and
// verbs is one table entry, with optional hooks for what a table cannot
// say (validation, effects on other menus, extra commands).
//
// For the firmware scripts it also has /user and /user/group (policy words
// validated and printed in RouterOS's order, write-only passwords),
// /ip/service (built-in services only), /system/device-mode,
// /interface/veth and /interface/bridge (mirrored into /interface),
// /interface/bridge/port, /ip/address, /ip/firewall/filter and
// /ip/firewall/nat (seeded with RouterOS's default configuration; add
// place-before and move), and /container with /container/envs,
// /container/mounts and /container/config. A container moves extracting →
// stopped → running → stopping → stopped on the configured clock, shown as
// status= before RouterOS 7.20 and as flags (running=true, …) from 7.20.
// Config.Version also gates attributes by the version that introduced them
// (envs list= 7.20, mounts list= and mountlists= 7.21, …); older versions
// answer "unknown parameter".
//
// The hotspot has /ip/hotspot (server hotspot1 on bridge-hotspot),
// /ip/hotspot/profile (html-directory, login-by), /ip/hotspot/walled-garden
// and /ip/hotspot/walled-garden/ip, and /file holds its pages (hotspot/
// login.html, alogin.html, status.html, logout.html, md5.js, as after
// /ip hotspot setup; /file add name= contents= like RouterOS 7). Its HTTP
// side (HotspotHandler, StartHotspot) is what a device on the hotspot
// sees: the redirect of a logged-out device to the login page, login.html
// with RouterOS's $(var) substitution, PAP and CHAP logins checked like
// LoginHotspotPassword that start the session the agent sees, /status and
// /logout.
//
// It is also RouterOS's RADIUS client (radius_*.go), configured through
// /radius (servers per service, tried in order: each gets the request and
// two retransmits /radius timeout apart before the next is tried),
// /radius incoming (accept, port; the listener binds
// Config.RadiusIncomingAddr), /ppp/aaa and use-radius, radius-accounting
// and radius-interim-update on /ip/hotspot/profile. A hotspot login
// (HotspotLogin, LoginHotspotPassword, the login page) or a PPPoE dial
// (DialPPPoE, LoginPPPPassword) for a name without a local user or secret
// goes to RADIUS — CHAP with the page's challenge or PAP, MS-CHAPv2 for
// PPPoE — with Message-Authenticator, and starts the session only on an
// Access-Accept (whose Message-Authenticator it requires, as RouterOS 7.15+
// does by default), applying Session-Timeout, Mikrotik-Rate-Limit,
// Mikrotik-Total-Limit(+Gigawords), Acct-Interim-Interval and
// Mikrotik-Group. Accounting Start, Interim-Update and Stop (with
// Acct-Terminate-Cause) carry the sessions' counters; an unanswered Stop
// is kept and resent. Disconnect-Request and CoA-Request on /radius
// incoming end or change sessions. RadiusStats counts it all and
// SetRadiusFaults scripts lost requests, delays and lost accounting
// answers. The attributes follow the project's RADIUS conventions, which
// the agent's server parses.
//
// Like RouterOS, listen reports added and changed items and removals
// (.dead=true) but not the constant growth of traffic counters and uptime;
// clients read those with print =interval=. SetListenRemovals makes a menu
// miss removals, as real RouterOS does on some menus.
//
// A seeded scenario engine (math/rand/v2 PCG) creates hotspot users and PPP
// secrets, logs them in and out at a configured churn rate and grows their
// counters; the same seed and the same number of steps give the same changes.
// Test hooks (LoginHotspot, Logout, Reboot, DropConnections, Tick…) drive it
// directly and Subscribe reports every change as ground truth.
//
// The simulator answers in microseconds. go-routeros's async Run registers a
// command's tag only after sending it, so against a fast server it can lose
// the reply and hang; register before sending (ListenArgs does) or bound
// every call.
package sim

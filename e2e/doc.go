// Package e2e holds the whole-system tests that run SitePulse as it ships:
// the built sitepulse, sitepulse-agent and sitepulse-sim binaries as
// separate processes, the dashboard built by Vite and embedded in the
// control plane, and Debian's headless Chromium driving it.
//
// browser_test.go builds the dashboard into a temporary directory and
// embeds it with `go build -overlay` (the working tree's
// controlplane/web/dist is never written, so concurrent builds of other
// packages are unaffected), starts the processes on 127.0.0.1:0, creates a
// tenant, a tenant admin and a router through the REST API, and runs the
// Node test in browser/ (playwright-core with /usr/bin/chromium). It needs
// node, npm and chromium; `go test -short` skips it. Its billing test
// records cash payments through the REST API and watches them arrive on
// the Payments page and the overview's revenue cards; on a control plane
// without billing it publishes them into the hub through the Pusher HTTP
// API instead (the control plane is started with a known app secret).
//
// Environment:
//
//	SITEPULSE_E2E_WATCH     seconds the page is watched for HTTP requests (default 60)
//	SITEPULSE_E2E_CHROMIUM  browser binary (default /usr/bin/chromium)
//
// Screenshots and the processes' logs are written to browser/artifacts/
// (gitignored); the test prints their paths.
package e2e

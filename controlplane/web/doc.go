// Package web serves the SitePulse dashboard, a Vue 3 single-page app built
// by Vite from the sources beside this file, from inside the control plane
// binary.
//
// The built files (dist/) are embedded with go:embed. dist/ holds only a
// committed placeholder until `npm ci && npm run build` (or `make web`) has
// run, so the Go packages build and test on a machine without Node.js; such
// a binary answers dashboard pages with a page that says how to build them.
//
// [Handler] serves the app with history-mode routing: a path that names no
// file gets index.html, so that /routers/r-1 opened from a bookmark reaches
// the client-side router. Vite's content-hashed files under assets/ are
// cached for a year; everything else is revalidated by ETag on every load.
package web

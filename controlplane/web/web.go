package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// dist is the Vite build output. "all:" keeps the committed dist/.keep,
// without which an unbuilt checkout would have nothing to embed and
// `go build` would fail.
//
//go:embed all:dist
var dist embed.FS

// Assets returns the embedded build output, rooted at dist/. It holds
// index.html only after the dashboard was built before `go build`.
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		// fs.Sub fails only for an invalid path; "dist" is valid.
		panic(fmt.Sprintf("web: sub dist: %v", err))
	}
	return sub
}

// UnbuiltMessage is the text of the page served in place of the dashboard
// when its assets were not built before the binary was.
const UnbuiltMessage = "Dashboard assets are not built. Run `make web` (npm ci && npm run build in controlplane/web)."

// Cache-Control values. Vite names every file under assets/ after a hash of
// its content, so a changed file gets a new name and the old one may be
// cached forever; index.html and the other files keep their names across
// releases and must be revalidated.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
)

// contentSecurityPolicy lets the app load only its own files and talk only
// to its own origin (REST and the Pusher WebSocket). Inline styles stay
// allowed because Vue binds style attributes (chart heights, bar widths).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; " +
	"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// contentTypes fixes the types of the files a Vite build emits, so that
// they do not depend on the host's mime.types.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".map":         "application/json",
	".webmanifest": "application/manifest+json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".jpg":         "image/jpeg",
	".jpeg":        "image/jpeg",
	".gif":         "image/gif",
	".webp":        "image/webp",
	".avif":        "image/avif",
	".ico":         "image/x-icon",
	".woff":        "font/woff",
	".woff2":       "font/woff2",
	".ttf":         "font/ttf",
	".txt":         "text/plain; charset=utf-8",
	".wasm":        "application/wasm",
}

// contentType returns the Content-Type of a file name; unknown types are
// served as opaque bytes rather than sniffed.
func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// compressible reports whether a type is text worth gzipping once up front.
func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.HasPrefix(ctype, "application/json") ||
		strings.HasPrefix(ctype, "application/manifest+json") || strings.HasPrefix(ctype, "image/svg+xml") ||
		ctype == "application/wasm"
}

// file is one servable file, read and hashed once when the Handler is made.
type file struct {
	name  string // base name, for http.ServeContent
	data  []byte
	gz    []byte // gzip of data, nil when it would not be smaller
	ctype string
	cache string
	etag  string // strong ETag of data; the gzip variant gets a suffix
}

// Handler serves a built dashboard as a single-page app. It answers GET and
// HEAD only. Make one with New or NewEmbedded.
type Handler struct {
	files map[string]*file // by slash path without the leading "/"
	index *file            // nil when the dashboard is not built
}

// NewEmbedded returns a Handler for the assets embedded in the binary.
func NewEmbedded() (*Handler, error) { return New(Assets()) }

// New returns a Handler serving fsys, whose root holds index.html and
// assets/ as written by `vite build`. Every file is read into memory once:
// a dashboard build is a few hundred KiB. Files and directories whose names
// start with a dot are not served. Without index.html the Handler answers
// pages with an explanation (see UnbuiltMessage).
func New(fsys fs.FS) (*Handler, error) {
	h := &Handler{files: make(map[string]*file)}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		h.files[p] = newFile(p, data)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: read dashboard assets: %w", err)
	}
	h.index = h.files["index.html"]
	return h, nil
}

func newFile(p string, data []byte) *file {
	sum := sha256.Sum256(data)
	f := &file{
		name:  path.Base(p),
		data:  data,
		ctype: contentType(p),
		cache: cacheRevalidate,
		etag:  `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`,
	}
	if strings.HasPrefix(p, "assets/") {
		f.cache = cacheImmutable
	}
	if compressible(f.ctype) && len(data) >= 512 {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression) // valid level: no error
		_, _ = zw.Write(data)                                  // a bytes.Buffer does not fail
		_ = zw.Close()
		if b.Len() < len(data)*9/10 {
			f.gz = b.Bytes()
		}
	}
	return f
}

// Built reports whether the Handler serves a built dashboard (index.html
// was present).
func (h *Handler) Built() bool { return h.index != nil }

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	p := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if f, ok := h.files[p]; ok {
		h.serveFile(w, r, f)
		return
	}
	if !isPage(p) {
		// A missing script or style must fail as such: index.html in its
		// place would only produce a confusing MIME-type error in the
		// browser. API paths that reach this handler were not routed.
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	if h.index == nil {
		serveUnbuilt(w, r)
		return
	}
	h.serveFile(w, r, h.index)
}

// isPage reports whether a request path (without the leading slash) is a
// client-side route that index.html should answer.
func isPage(p string) bool {
	if p == "api" || strings.HasPrefix(p, "api/") || p == "app" || strings.HasPrefix(p, "app/") ||
		p == "assets" || strings.HasPrefix(p, "assets/") {
		return false
	}
	// Client routes have no file extension; "/routers/r-1.2" style ids are
	// not used by the app.
	return path.Ext(p) == "" || p == "index.html"
}

func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, f *file) {
	hdr := w.Header()
	hdr.Set("Content-Type", f.ctype)
	hdr.Set("Cache-Control", f.cache)
	if f == h.index {
		hdr.Set("Content-Security-Policy", contentSecurityPolicy)
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("X-Frame-Options", "DENY")
	}
	data, etag := f.data, f.etag
	if f.gz != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			data, etag = f.gz, strings.TrimSuffix(f.etag, `"`)+`-gz"`
			hdr.Set("Content-Encoding", "gzip")
		}
	}
	hdr.Set("ETag", etag)
	// The zero modification time makes ServeContent rely on the ETag alone.
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(data))
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(ae string) bool {
	for part := range strings.SplitSeq(ae, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.TrimSpace(coding) != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// unbuiltPage explains an unbuilt binary to whoever opens the dashboard.
var unbuiltPage = []byte(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SitePulse: dashboard not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1e293b}</style></head>
<body><h1>SitePulse</h1>
<p>` + html.EscapeString(UnbuiltMessage) + `</p>
<p>Then rebuild the binary. The REST API under /api/v1 and the realtime endpoint work without the dashboard.</p>
</body></html>
`)

// serveUnbuilt answers 503: the binary works but this part of it is missing.
func serveUnbuilt(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	if r.Method != http.MethodHead {
		_, _ = w.Write(unbuiltPage)
	}
}

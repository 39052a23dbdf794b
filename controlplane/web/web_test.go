package web

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

// builtFS is what `vite build` writes: index.html, hashed assets, and files
// copied from public/.
func builtFS() fstest.MapFS {
	return fstest.MapFS{
		".keep":                       {Data: []byte("placeholder")},
		"index.html":                  {Data: []byte(`<!doctype html><html><head><script type="module" src="/assets/index-B1x2y3z4.js"></script></head><body><div id="app"></div></body></html>`)},
		"assets/index-B1x2y3z4.js":    {Data: []byte(strings.Repeat("console.log('sitepulse dashboard');\n", 100))},
		"assets/index-C9d8e7f6.css":   {Data: []byte("body{margin:0}")},
		"assets/logo-D5e6f7a8.woff2":  {Data: []byte{0x77, 0x4f, 0x46, 0x32}},
		"favicon.svg":                 {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
		"robots.txt":                  {Data: []byte("User-agent: *\nDisallow: /\n")},
		".vite/manifest.json":         {Data: []byte(`{}`)},
		"assets/.hidden-E1f2a3b4.txt": {Data: []byte("hidden")},
	}
}

func newHandler(t *testing.T, fsys fstest.MapFS) *Handler {
	t.Helper()
	h, err := New(fsys)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return h
}

func do(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

func TestBuilt(t *testing.T) {
	fsys := builtFS()
	h := newHandler(t, fsys)
	if !h.Built() {
		t.Fatal("Built() = false with index.html present")
	}
	index := string(fsys["index.html"].Data)
	tests := []struct {
		name, target string
		wantStatus   int
		wantType     string
		wantCache    string
		wantBody     string // "" skips the check
	}{
		{"root", "/", 200, "text/html; charset=utf-8", cacheRevalidate, index},
		{"index file", "/index.html", 200, "text/html; charset=utf-8", cacheRevalidate, index},
		{"spa route", "/sessions/hotspot", 200, "text/html; charset=utf-8", cacheRevalidate, index},
		{"spa route with id", "/routers/r-1a2b", 200, "text/html; charset=utf-8", cacheRevalidate, index},
		{"spa route with query", "/login?redirect=%2Frouters", 200, "text/html; charset=utf-8", cacheRevalidate, index},
		{"hashed script", "/assets/index-B1x2y3z4.js", 200, "text/javascript; charset=utf-8", cacheImmutable, string(fsys["assets/index-B1x2y3z4.js"].Data)},
		{"hashed style", "/assets/index-C9d8e7f6.css", 200, "text/css; charset=utf-8", cacheImmutable, "body{margin:0}"},
		{"font", "/assets/logo-D5e6f7a8.woff2", 200, "font/woff2", cacheImmutable, ""},
		{"public svg", "/favicon.svg", 200, "image/svg+xml", cacheRevalidate, ""},
		{"public text", "/robots.txt", 200, "text/plain; charset=utf-8", cacheRevalidate, ""},
		{"traversal is cleaned", "/x/../../assets/index-C9d8e7f6.css", 200, "text/css; charset=utf-8", cacheImmutable, "body{margin:0}"},
		{"missing asset", "/assets/index-old.js", 404, "text/plain; charset=utf-8", "", ""},
		{"missing file with extension", "/missing.png", 404, "text/plain; charset=utf-8", "", ""},
		{"dotfile", "/.keep", 404, "text/plain; charset=utf-8", "", ""},
		{"dot directory", "/.vite/manifest.json", 404, "text/plain; charset=utf-8", "", ""},
		{"dotfile in assets", "/assets/.hidden-E1f2a3b4.txt", 404, "text/plain; charset=utf-8", "", ""},
		{"unrouted api", "/api/v1/nope", 404, "text/plain; charset=utf-8", "", ""},
		{"websocket path", "/app/key", 404, "text/plain; charset=utf-8", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, h, "GET", tt.target, nil)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if got := res.Header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if got := res.Header.Get("Cache-Control"); got != tt.wantCache {
				t.Errorf("Cache-Control = %q, want %q", got, tt.wantCache)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if got := body(t, res); tt.wantBody != "" && got != tt.wantBody {
				t.Errorf("body = %.80q…, want %.80q…", got, tt.wantBody)
			}
		})
	}
}

func TestIndexSecurityHeaders(t *testing.T) {
	h := newHandler(t, builtFS())
	res := do(t, h, "GET", "/overview", nil)
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "connect-src 'self' ws: wss:", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy = %q, want it to contain %q", csp, want)
		}
	}
	if got := res.Header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("X-Frame-Options = %q, want DENY", got)
	}
	res = do(t, h, "GET", "/assets/index-B1x2y3z4.js", nil)
	if got := res.Header.Get("Content-Security-Policy"); got != "" {
		t.Errorf("script has Content-Security-Policy %q, want none", got)
	}
}

func TestMethods(t *testing.T) {
	h := newHandler(t, builtFS())
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		res := do(t, h, m, "/", nil)
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: status = %d, want 405", m, res.StatusCode)
		}
		if got := res.Header.Get("Allow"); got != "GET, HEAD" {
			t.Errorf("%s: Allow = %q, want %q", m, got, "GET, HEAD")
		}
	}
	res := do(t, h, "HEAD", "/assets/index-C9d8e7f6.css", nil)
	if res.StatusCode != 200 {
		t.Fatalf("HEAD status = %d, want 200", res.StatusCode)
	}
	if got := res.Header.Get("Content-Length"); got != "14" {
		t.Errorf("HEAD Content-Length = %q, want 14", got)
	}
	if got := body(t, res); got != "" {
		t.Errorf("HEAD body = %q, want empty", got)
	}
}

func TestETag(t *testing.T) {
	h := newHandler(t, builtFS())
	res := do(t, h, "GET", "/", nil)
	etag := res.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on index.html")
	}
	res = do(t, h, "GET", "/routers", map[string]string{"If-None-Match": etag})
	if res.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation status = %d, want 304", res.StatusCode)
	}
	res = do(t, h, "GET", "/", map[string]string{"If-None-Match": `"stale"`})
	if res.StatusCode != http.StatusOK {
		t.Errorf("stale ETag status = %d, want 200", res.StatusCode)
	}
}

func TestGzip(t *testing.T) {
	fsys := builtFS()
	h := newHandler(t, fsys)
	const target = "/assets/index-B1x2y3z4.js"
	want := string(fsys["assets/index-B1x2y3z4.js"].Data)

	plain := do(t, h, "GET", target, nil)
	if got := plain.Header.Get("Content-Encoding"); got != "" {
		t.Errorf("without Accept-Encoding: Content-Encoding = %q, want none", got)
	}
	if got := plain.Header.Get("Vary"); got != "Accept-Encoding" {
		t.Errorf("Vary = %q, want Accept-Encoding", got)
	}

	res := do(t, h, "GET", target, map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	if got := res.Header.Get("Content-Encoding"); got != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", got)
	}
	if res.Header.Get("ETag") == plain.Header.Get("ETag") {
		t.Error("gzip and identity variants share an ETag")
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatalf("gzip reader: %v", err)
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	if string(got) != want {
		t.Errorf("gunzipped body differs from the file (%d vs %d bytes)", len(got), len(want))
	}

	refused := do(t, h, "GET", target, map[string]string{"Accept-Encoding": "gzip;q=0"})
	if got := refused.Header.Get("Content-Encoding"); got != "" {
		t.Errorf("gzip;q=0: Content-Encoding = %q, want none", got)
	}
	// A file too small to gain from compression is always sent as is.
	small := do(t, h, "GET", "/assets/index-C9d8e7f6.css", map[string]string{"Accept-Encoding": "gzip"})
	if got := small.Header.Get("Content-Encoding"); got != "" {
		t.Errorf("small file: Content-Encoding = %q, want none", got)
	}
}

func TestUnbuilt(t *testing.T) {
	h := newHandler(t, fstest.MapFS{".keep": {Data: []byte("placeholder")}})
	if h.Built() {
		t.Fatal("Built() = true without index.html")
	}
	for _, target := range []string{"/", "/login", "/routers/r-1"} {
		res := do(t, h, "GET", target, nil)
		if res.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s: status = %d, want 503", target, res.StatusCode)
		}
		if got := res.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type = %q, want text/html", target, got)
		}
		if got := res.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control = %q, want no-store", target, got)
		}
		b := body(t, res)
		for _, want := range []string{"Dashboard assets are not built.", "Run `make web` (npm ci &amp;&amp; npm run build in controlplane/web)."} {
			if !strings.Contains(b, want) {
				t.Errorf("%s: body lacks %q:\n%s", target, want, b)
			}
		}
	}
	for _, target := range []string{"/assets/index-B1x2y3z4.js", "/.keep", "/api/v1/me"} {
		if res := do(t, h, "GET", target, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status = %d, want 404", target, res.StatusCode)
		}
	}
	res := do(t, h, "HEAD", "/", nil)
	if res.StatusCode != http.StatusServiceUnavailable || body(t, res) != "" {
		t.Errorf("HEAD: status %d with a body, want 503 and no body", res.StatusCode)
	}
}

// TestEmbedded checks the real embedded tree, whichever state it is in: the
// committed placeholder only, or a build made before `go test`.
func TestEmbedded(t *testing.T) {
	h, err := NewEmbedded()
	if err != nil {
		t.Fatalf("NewEmbedded: %v", err)
	}
	res := do(t, h, "GET", "/", nil)
	b := body(t, res)
	if h.Built() {
		if res.StatusCode != http.StatusOK || !strings.Contains(b, `<div id="app">`) {
			t.Errorf("built: status %d, body %.200q; want 200 with the app's mount point", res.StatusCode, b)
		}
		// Every script index.html loads must be served as JavaScript.
		for _, src := range scriptSources(b) {
			res := do(t, h, "GET", src, nil)
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
				t.Errorf("%s: status %d, type %q", src, res.StatusCode, res.Header.Get("Content-Type"))
			}
		}
	} else if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("unbuilt: status %d, want 503", res.StatusCode)
	}
	if res := do(t, h, "GET", "/.keep", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("/.keep: status %d, want 404", res.StatusCode)
	}
}

// scriptSources returns the src attributes of <script> tags in an HTML page.
func scriptSources(page string) []string {
	var out []string
	for rest := page; ; {
		i := strings.Index(rest, "<script")
		if i < 0 {
			return out
		}
		rest = rest[i:]
		end := strings.IndexByte(rest, '>')
		if end < 0 {
			return out
		}
		tag := rest[:end]
		if j := strings.Index(tag, `src="`); j >= 0 {
			src := tag[j+5:]
			if k := strings.IndexByte(src, '"'); k >= 0 {
				out = append(out, src[:k])
			}
		}
		rest = rest[end:]
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"gzip, deflate, br", true},
		{"br;q=1.0, gzip;q=0.5", true},
		{"gzip;q=0", false},
		{"gzip; q=0.0", false},
		{"deflate", false},
		{"*", true},
		{"identity", false},
	}
	for _, tt := range tests {
		if got := acceptsGzip(tt.in); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestContentType(t *testing.T) {
	tests := map[string]string{
		"a.js":           "text/javascript; charset=utf-8",
		"a.CSS":          "text/css; charset=utf-8",
		"a.map":          "application/json",
		"a.webmanifest":  "application/manifest+json",
		"a.ico":          "image/x-icon",
		"noext":          "application/octet-stream",
		"a.unknownthing": "application/octet-stream",
	}
	for name, want := range tests {
		if got := contentType(name); got != want {
			t.Errorf("contentType(%q) = %q, want %q", name, got, want)
		}
	}
	// Sanity: the gzip test relies on the script being compressible.
	if !compressible(contentType("a.js")) || compressible(contentType("a.woff2")) {
		t.Error("compressible: want scripts compressed and fonts not")
	}
}

package fanout

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane/pusher"
)

// hookRecorder is a real HTTP server that keeps every webhook request's
// headers and raw body (POST) and hands them to the node script (GET), which
// checks them with the pusher SDK.
type hookRecorder struct {
	mu  sync.Mutex
	got []recordedHook
}

type recordedHook struct {
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

func (r *hookRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.Method == http.MethodGet {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(append([]recordedHook{}, r.got...))
		return
	}
	body, _ := io.ReadAll(req.Body)
	h := map[string]string{}
	for k := range req.Header {
		h[http.CanonicalHeaderKey(k)] = req.Header.Get(k)
	}
	// The SDK reads lower-case header names, as Node's http module gives.
	lower := map[string]string{}
	for k, v := range h {
		lower[lowerASCII(k)] = v
	}
	r.got = append(r.got, recordedHook{Headers: lower, Body: string(body)})
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func TestNodePusherWebhooks(t *testing.T) {
	node := requireNodeModules(t)
	hooks := httptest.NewServer(&hookRecorder{})
	t.Cleanup(hooks.Close)
	h, err := pusher.New(pusher.Options{
		AppID: testAppID, Key: testKey, Secret: testSecret, ClientEvents: true,
		// A short debounce keeps the delayed removals on the tested path.
		Webhooks: pusher.WebhookOptions{URLs: []string{hooks.URL}, BatchWindow: 50 * time.Millisecond, Debounce: 200 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Mount(mux, ChannelAuth(testTokens))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	runNode(t, node, "webhooks.mjs", []string{
		"SP_WS_HOST=" + u.Hostname(),
		"SP_WS_PORT=" + u.Port(),
		"SP_HTTP_URL=" + srv.URL,
		"SP_APP_ID=" + testAppID,
		"SP_KEY=" + testKey,
		"SP_SECRET=" + testSecret,
		"SP_HOOK_URL=" + hooks.URL,
	}, nil)
}

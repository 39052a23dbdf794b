package fanout

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane/pusher"
	"github.com/sitepulse/sitepulse/internal/testkit"
)

// TestNodeFeatures runs jstest/features.mjs: user authentication, cache
// channels, subscription_count and channel queries with pusher-js,
// laravel-echo and the pusher SDK, against a hub with SitePulse's channel
// and user authorization and subscription counting on (as cmd/sitepulse
// runs it).
func TestNodeFeatures(t *testing.T) {
	node := requireNodeModules(t)
	h, err := pusher.New(pusher.Options{AppID: testAppID, Key: testKey, Secret: testSecret, SubscriptionCount: true})
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
	runNode(t, node, "features.mjs", []string{
		"SP_WS_HOST=" + u.Hostname(), "SP_WS_PORT=" + u.Port(), "SP_HTTP_URL=" + srv.URL,
		"SP_APP_ID=" + testAppID, "SP_KEY=" + testKey, "SP_SECRET=" + testSecret,
	}, nil)
	// Closed connections leave the user registry.
	testkit.Eventually(t, 5*time.Second, "no signed-in users after every client left", func() bool { return len(h.SignedInUsers()) == 0 })
}

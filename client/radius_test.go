package client_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sitepulse/sitepulse/client"
	"github.com/sitepulse/sitepulse/protocol"
)

func TestRouterAuthModeRequests(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.Path+" "+string(b))
		if r.Method == http.MethodPatch {
			w.WriteHeader(http.StatusAccepted)
			w.Write([]byte(`{"router":{"id":"r1","auth_mode":"radius"},"commands":[]}`))
			return
		}
		w.Write([]byte(`{"router_id":"r1","auth_mode":"radius","radius":{"version":3,"agent_version":2,"in_sync":false}}`))
	}))
	defer srv.Close()
	c := client.New(srv.URL, client.Options{Token: "tok"})
	ch, err := c.SetRouterAuthMode(context.Background(), "r1", protocol.AuthRadius)
	if err != nil || ch.Router.AuthMode != protocol.AuthRadius {
		t.Fatalf("SetRouterAuthMode = %+v, %v", ch, err)
	}
	st, err := c.RouterRadius(context.Background(), "r1")
	if err != nil || st.Radius.Version != 3 || st.Radius.AgentVersion != 2 {
		t.Fatalf("RouterRadius = %+v, %v", st, err)
	}
	want := []string{`PATCH /api/v1/routers/r1 {"auth_mode":"radius"}`, `GET /api/v1/routers/r1/radius `}
	if len(got) != 2 || got[0] != want[0]+"\n" && got[0] != want[0] || got[1] != want[1] {
		t.Errorf("requests %q, want %q", got, want)
	}
}

package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sitepulse/sitepulse/controlplane/cluster/clustertest"
	"github.com/sitepulse/sitepulse/controlplane/pusher"
)

const (
	occAppID  = "3"
	occKey    = "278d425bdf160c739803"
	occSecret = "7ad3773142a6692b25b8"
)

// replicaHub is one replica's Pusher hub on a loopback HTTP server.
type replicaHub struct {
	hub *pusher.Hub
	srv *httptest.Server
}

func startReplicaHub(t *testing.T) replicaHub {
	t.Helper()
	h, err := pusher.New(pusher.Options{AppID: occAppID, Key: occKey, Secret: occSecret})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/app/{key}", h)
	mux.Handle("/apps/", pusher.NewAPIHandler(h))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx)
	})
	return replicaHub{h, srv}
}

// socket is a raw Pusher client.
type socket struct {
	t  *testing.T
	ws *websocket.Conn
	id string
}

func (r replicaHub) dial(t *testing.T) *socket {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(r.srv.URL, "http")+"/app/"+occKey+"?protocol=7", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	t.Cleanup(func() { ws.Close() })
	s := &socket{t: t, ws: ws}
	var d struct {
		SocketID string `json:"socket_id"`
	}
	json.Unmarshal(s.expect("pusher:connection_established"), &d)
	s.id = d.SocketID
	return s
}

func (s *socket) send(event string, data any) {
	s.t.Helper()
	if err := s.ws.WriteJSON(map[string]any{"event": event, "data": data}); err != nil {
		s.t.Fatal(err)
	}
}

// expect returns the data (decoded from its string) of the next frame,
// which must be event.
func (s *socket) expect(event string) json.RawMessage {
	s.t.Helper()
	_ = s.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var f struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	if err := s.ws.ReadJSON(&f); err != nil {
		s.t.Fatalf("waiting for %s: %v", event, err)
	}
	if f.Event != event {
		s.t.Fatalf("got %s (%s), want %s", f.Event, f.Data, event)
	}
	var str string
	if json.Unmarshal(f.Data, &str) == nil {
		return json.RawMessage(str)
	}
	return f.Data
}

func (s *socket) presence(channel, userID string) {
	s.t.Helper()
	cd := `{"user_id":"` + userID + `"}`
	s.send("pusher:subscribe", map[string]string{"channel": channel, "channel_data": cd, "auth": pusher.SignChannel(occKey, occSecret, s.id, channel, cd)})
	s.expect("pusher_internal:subscription_succeeded")
}

func (s *socket) signin(userID string) {
	s.t.Helper()
	ud := `{"id":"` + userID + `"}`
	s.send("pusher:signin", map[string]string{"auth": pusher.SignUser(occKey, occSecret, s.id, ud), "user_data": ud})
	s.expect("pusher:signin_success")
}

// api sends a signed HTTP API request to r and decodes the answer.
func (r replicaHub) api(t *testing.T, method, path string, params url.Values, body string, v any) time.Duration {
	t.Helper()
	q, err := pusher.SignedQuery(occKey, occSecret, method, path, params, []byte(body), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, r.srv.URL+path+"?"+q.Encode(), strings.NewReader(body))
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
	}
	return time.Since(start)
}

func TestChannelQueriesClusterWide(t *testing.T) {
	broker := clustertest.StartMosquitto(t)
	a, b := startReplicaHub(t), startReplicaHub(t)
	ca := startClient(t, broker, "occ-a", newRecorder())
	cb := startClient(t, broker, "occ-b", newRecorder())
	ca.opts.QueryTimeout, cb.opts.QueryTimeout = 2*time.Second, 2*time.Second
	ca.ShareHub(a.hub)
	cb.ShareHub(b.hub)

	// User 1 on both replicas, user 2 on b only; a plain channel on both.
	a.dial(t).presence("presence-room", "1")
	b.dial(t).presence("presence-room", "1")
	b.dial(t).presence("presence-room", "2")

	var users struct {
		Users []struct {
			ID string `json:"id"`
		} `json:"users"`
	}
	a.api(t, http.MethodGet, "/apps/3/channels/presence-room/users", nil, "", &users)
	var ids []string
	for _, u := range users.Users {
		ids = append(ids, u.ID)
	}
	sort.Strings(ids)
	if strings.Join(ids, ",") != "1,2" {
		t.Fatalf("users asked of a = %v, want 1,2 (union over replicas)", ids)
	}
	var info map[string]any
	elapsed := b.api(t, http.MethodGet, "/apps/3/channels/presence-room", url.Values{"info": {"user_count,subscription_count"}}, "", &info)
	if info["occupied"] != true || info["user_count"] != 2.0 || info["subscription_count"] != 3.0 {
		t.Fatalf("channel info asked of b = %v, want occupied, 2 users, 3 subscriptions", info)
	}
	// b has heard from a (a asked first): it did not wait out the timeout.
	if elapsed >= ca.opts.QueryTimeout {
		t.Errorf("a query with every replica answering took %v, the whole timeout", elapsed)
	}
	var list struct {
		Channels map[string]map[string]int `json:"channels"`
	}
	a.api(t, http.MethodGet, "/apps/3/channels", url.Values{"filter_by_prefix": {"presence-"}, "info": {"user_count"}}, "", &list)
	if list.Channels["presence-room"]["user_count"] != 2 {
		t.Fatalf("channels asked of a = %v", list.Channels)
	}

	// terminate_connections asked of a closes user 7's socket on b.
	s7 := b.dial(t)
	s7.signin("7")
	a.api(t, http.MethodPost, "/apps/3/users/7/terminate_connections", nil, "{}", nil)
	var d struct {
		Code int `json:"code"`
	}
	json.Unmarshal(s7.expect("pusher:error"), &d)
	if d.Code != pusher.CodeTerminated {
		t.Fatalf("terminate error code %d", d.Code)
	}
	_, _, err := s7.ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != pusher.CodeTerminated {
		t.Fatalf("after terminate: %v, want close %d", err, pusher.CodeTerminated)
	}

	// A replica that no longer answers is left out, and the answer still
	// comes (after the timeout).
	_ = cb.Close()
	a.api(t, http.MethodGet, "/apps/3/channels/presence-room/users", nil, "", &users)
	if len(users.Users) != 1 || users.Users[0].ID != "1" {
		t.Fatalf("users with b silent = %+v, want a's user 1 alone", users.Users)
	}
}

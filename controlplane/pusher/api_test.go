package pusher

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// apiCall sends a signed Pusher HTTP API request. tamper, if set, changes the
// signed query before it is sent.
type apiCall struct {
	method, path string
	params       url.Values
	body         string
	secret       string
	at           time.Time
	tamper       func(url.Values)
}

func (c apiCall) do(t *testing.T, base string) (int, string) {
	t.Helper()
	at := c.at
	if at.IsZero() {
		at = time.Now()
	}
	secret := c.secret
	if secret == "" {
		secret = testSecret
	}
	q, err := SignedQuery(testKey, secret, c.method, c.path, c.params, []byte(c.body), at)
	if err != nil {
		t.Fatal(err)
	}
	if c.tamper != nil {
		c.tamper(q)
	}
	req, err := http.NewRequest(c.method, base+c.path+"?"+q.Encode(), strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func triggerBody(channels []string, name, data, socketID string) string {
	m := map[string]any{"name": name, "data": data, "channels": channels}
	if socketID != "" {
		m["socket_id"] = socketID
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestAPITriggerDelivers(t *testing.T) {
	_, srv := newTestHub(t, nil)
	a, b := dial(t, srv), dial(t, srv)
	a.subscribeOK("private-tenant.1.sessions", "")
	b.subscribeOK("private-tenant.1.sessions", "")

	status, body := apiCall{method: "POST", path: "/apps/3/events",
		body: triggerBody([]string{"private-tenant.1.sessions"}, "SessionStarted", `{"id":1}`, "")}.do(t, srv.URL)
	if status != 200 || body != "{}" {
		t.Fatalf("trigger: %d %s, want 200 {}", status, body)
	}
	for _, c := range []*testClient{a, b} {
		if f := c.expect("SessionStarted"); string(f.Data) != `{"id":1}` {
			t.Errorf("data = %s", f.Data)
		}
	}

	// socket_id excludes the originating connection.
	status, _ = apiCall{method: "POST", path: "/apps/3/events",
		body: triggerBody([]string{"private-tenant.1.sessions"}, "Echo", `x`, a.socketID)}.do(t, srv.URL)
	if status != 200 {
		t.Fatalf("trigger with socket_id: %d", status)
	}
	b.expect("Echo")
	a.alive()

	// The reference body (single "channel" form and object data are
	// accepted too).
	status, _ = apiCall{method: "POST", path: "/apps/3/events",
		body: `{"name":"Obj","channel":"private-tenant.1.sessions","data":{"k":"v"}}`}.do(t, srv.URL)
	if status != 200 {
		t.Fatalf("object data: %d", status)
	}
	if f := a.expect("Obj"); string(f.Data) != `{"k":"v"}` {
		t.Errorf("object data delivered as %s", f.Data)
	}
}

func TestAPIRejects(t *testing.T) {
	_, srv := newTestHub(t, nil)
	good := triggerBody([]string{"c"}, "E", "d", "")
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("c%d", i)
	}
	batch11 := `{"batch":[` + strings.TrimSuffix(strings.Repeat(`{"channel":"c","name":"E","data":"d"},`, 11), ",") + `]}`
	tests := []struct {
		name       string
		call       apiCall
		wantStatus int
		wantText   string
	}{
		{"wrong secret", apiCall{method: "POST", path: "/apps/3/events", body: good, secret: "wrong"}, 401, "auth_signature"},
		{"old timestamp", apiCall{method: "POST", path: "/apps/3/events", body: good, at: time.Now().Add(-11 * time.Minute)}, 401, "auth_timestamp"},
		{"future timestamp", apiCall{method: "POST", path: "/apps/3/events", body: good, at: time.Now().Add(11 * time.Minute)}, 401, "auth_timestamp"},
		{"body_md5 mismatch", apiCall{method: "POST", path: "/apps/3/events", body: good,
			tamper: func(q url.Values) { q.Set("body_md5", BodyMD5([]byte("other"))) }}, 401, "body_md5"},
		{"unknown key", apiCall{method: "POST", path: "/apps/3/events", body: good,
			tamper: func(q url.Values) { q.Set("auth_key", "x") }}, 401, "auth_key"},
		{"param added after signing", apiCall{method: "GET", path: "/apps/3/channels",
			tamper: func(q url.Values) { q.Set("filter_by_prefix", "private-") }}, 401, "auth_signature"},
		{"unknown app", apiCall{method: "POST", path: "/apps/4/events", body: good}, 404, "unknown app"},
		{"unknown endpoint", apiCall{method: "GET", path: "/apps/3/nope"}, 404, "no such endpoint"},
		{"data too large", apiCall{method: "POST", path: "/apps/3/events",
			body: triggerBody([]string{"c"}, "E", strings.Repeat("x", 10*1024+1), "")}, 413, "too_large"},
		{"data at the limit", apiCall{method: "POST", path: "/apps/3/events",
			body: triggerBody([]string{"c"}, "E", strings.Repeat("x", 10*1024), "")}, 200, "{}"},
		{"101 channels", apiCall{method: "POST", path: "/apps/3/events", body: triggerBody(many, "E", "d", "")}, 400, "1 to 100"},
		{"no channel", apiCall{method: "POST", path: "/apps/3/events", body: `{"name":"E","data":"d"}`}, 400, "channels"},
		{"bad channel", apiCall{method: "POST", path: "/apps/3/events", body: triggerBody([]string{"a b"}, "E", "d", "")}, 400, "invalid channel"},
		{"reserved name", apiCall{method: "POST", path: "/apps/3/events", body: triggerBody([]string{"c"}, "pusher:error", "d", "")}, 400, "reserved"},
		{"bad socket_id", apiCall{method: "POST", path: "/apps/3/events", body: triggerBody([]string{"c"}, "E", "d", "abc")}, 400, "socket_id"},
		{"not json", apiCall{method: "POST", path: "/apps/3/events", body: `{`}, 400, "not valid JSON"},
		{"GET events", apiCall{method: "GET", path: "/apps/3/events"}, 400, "POST"},
		{"batch of 11", apiCall{method: "POST", path: "/apps/3/batch_events", body: batch11}, 400, "1 to 10"},
		{"batch item too large", apiCall{method: "POST", path: "/apps/3/batch_events",
			body: `{"batch":[{"channel":"c","name":"E","data":"` + strings.Repeat("x", 10241) + `"}]}`}, 413, "batch[0]"},
		{"user_count on private", apiCall{method: "GET", path: "/apps/3/channels/private-x", params: url.Values{"info": {"user_count"}}}, 400, "presence"},
		{"users of private", apiCall{method: "GET", path: "/apps/3/channels/private-x/users"}, 400, "presence"},
		{"user_count without presence prefix", apiCall{method: "GET", path: "/apps/3/channels", params: url.Values{"info": {"user_count"}}}, 400, "presence-"},
		{"unknown info", apiCall{method: "GET", path: "/apps/3/channels/x", params: url.Values{"info": {"bogus"}}}, 400, "bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := tt.call.do(t, srv.URL)
			if status != tt.wantStatus || !strings.Contains(body, tt.wantText) {
				t.Errorf("got %d %s, want %d containing %q", status, body, tt.wantStatus, tt.wantText)
			}
			if status != 200 && !strings.Contains(body, `"error":{"code":`) {
				t.Errorf("error body %s is not {\"error\":{\"code\",\"message\"}}", body)
			}
		})
	}
}

func TestAPIBatchAndChannelQueries(t *testing.T) {
	_, srv := newTestHub(t, nil)
	a := dial(t, srv)
	a.subscribeOK("private-tenant.1.routers", "")
	a.subscribeOK("presence-tenant.1.room", memberData("u1", nil))
	b := dial(t, srv)
	b.subscribeOK("presence-tenant.1.room", memberData("u2", nil))
	a.expect("pusher_internal:member_added")
	b2 := dial(t, srv)
	b2.subscribeOK("presence-tenant.1.room", memberData("u2", nil))

	status, body := apiCall{method: "POST", path: "/apps/3/batch_events",
		body: `{"batch":[{"channel":"private-tenant.1.routers","name":"RouterStatusUpdated","data":"{\"id\":\"r1\"}"},` +
			`{"channel":"presence-tenant.1.room","name":"Hello","data":"hi","info":"user_count,subscription_count"}]}`}.do(t, srv.URL)
	if status != 200 || body != `{"batch":[{},{"subscription_count":3,"user_count":2}]}` {
		t.Fatalf("batch: %d %s", status, body)
	}
	// Order is kept per channel, not across channels (each has its shard).
	got := map[string]bool{}
	for range 2 {
		f, err := a.next()
		if err != nil {
			t.Fatal(err)
		}
		got[f.Event] = true
	}
	if !got["RouterStatusUpdated"] || !got["Hello"] {
		t.Fatalf("a got %v, want RouterStatusUpdated and Hello", got)
	}
	b.expect("Hello")

	tests := []struct {
		name   string
		path   string
		params url.Values
		want   string
	}{
		{"all channels", "/apps/3/channels", nil, `{"channels":{"presence-tenant.1.room":{},"private-tenant.1.routers":{}}}`},
		{"prefix", "/apps/3/channels", url.Values{"filter_by_prefix": {"private-"}}, `{"channels":{"private-tenant.1.routers":{}}}`},
		{"presence user_count", "/apps/3/channels", url.Values{"filter_by_prefix": {"presence-"}, "info": {"user_count"}},
			`{"channels":{"presence-tenant.1.room":{"user_count":2}}}`},
		{"one channel", "/apps/3/channels/presence-tenant.1.room", url.Values{"info": {"subscription_count,user_count"}},
			`{"occupied":true,"subscription_count":3,"user_count":2}`},
		{"unoccupied", "/apps/3/channels/private-nobody", nil, `{"occupied":false}`},
		{"users", "/apps/3/channels/presence-tenant.1.room/users", nil, `{"users":[{"id":"u1"},{"id":"u2"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := apiCall{method: "GET", path: tt.path, params: tt.params}.do(t, srv.URL)
			if status != 200 || body != tt.want {
				t.Errorf("got %d %s, want 200 %s", status, body, tt.want)
			}
		})
	}
}

package pusher

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// SigninData makes every test user a SigninUser.
func (u testUser) SigninData() UserData {
	return UserData{ID: u.id, UserInfo: map[string]string{"name": u.name}}
}

func TestSignUserVector(t *testing.T) {
	// What the pusher Node SDK's authenticateUser signs: socketId +
	// "::user::" + JSON user data (verified against pusher 5.3.4).
	got := SignUser(testKey, testSecret, "1234.1234", `{"id":"12345"}`)
	want := testKey + ":4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba"
	if got != want {
		t.Fatalf("SignUser = %s, want %s", got, want)
	}
	if !VerifyUserAuth(testKey, testSecret, "1234.1234", `{"id":"12345"}`, got) {
		t.Fatal("VerifyUserAuth refused its own signature")
	}
	if VerifyUserAuth(testKey, testSecret, "1234.1235", `{"id":"12345"}`, got) {
		t.Fatal("VerifyUserAuth accepted another socket's signature")
	}
}

func signin(t *testing.T, c *testClient, userData string) wsFrame {
	t.Helper()
	c.send("pusher:signin", "", map[string]string{"auth": SignUser(testKey, testSecret, c.socketID, userData), "user_data": userData})
	return c.expect("pusher:signin_success")
}

func TestSigninAndSendToUser(t *testing.T) {
	h, srv := newTestHub(t, nil)
	a1, a2, b := dial(t, srv), dial(t, srv), dial(t, srv)
	f := signin(t, a1, `{"id":"11","user_info":{"name":"Alice"}}`)
	var d struct {
		UserData string `json:"user_data"`
	}
	f.decode(t, &d)
	if d.UserData != `{"id":"11","user_info":{"name":"Alice"}}` {
		t.Fatalf("signin_success user_data = %q", d.UserData)
	}
	signin(t, a2, `{"id":"11"}`)
	signin(t, b, `{"id":"21"}`)

	// pusher-js subscribes to its own #server-to-user- channel; another
	// user's is refused.
	a1.subscribe("#server-to-user-11", "", "")
	if f := a1.expect("pusher_internal:subscription_succeeded"); f.Channel != "#server-to-user-11" {
		t.Fatalf("succeeded for %q", f.Channel)
	}
	b.subscribe("#server-to-user-11", "", "")
	if f := b.expect("pusher:subscription_error"); !strings.Contains(string(f.Data), "403") {
		t.Fatalf("subscription_error %s", f.Data)
	}

	if err := h.SendToUser("11", "Notice", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testClient{a1, a2} {
		f := c.expect("Notice")
		if f.Channel != "#server-to-user-11" || string(f.Data) != `{"n":1}` {
			t.Fatalf("got %s on %s: %s", f.Event, f.Channel, f.Data)
		}
	}
	b.alive() // user 21 got nothing

	// Through the HTTP API, as the SDK's sendToUser does.
	code, body := apiCall{method: http.MethodPost, path: "/apps/3/events", body: triggerBody([]string{"#server-to-user-21"}, "Hello", `{"x":2}`, "")}.do(t, srv.URL)
	if code != 200 {
		t.Fatalf("trigger to user: %d %s", code, body)
	}
	if f := b.expect("Hello"); f.Channel != "#server-to-user-21" {
		t.Fatalf("Hello on %q", f.Channel)
	}
	a1.alive()

	// terminate_connections closes both of user 11's connections with 4009.
	code, body = apiCall{method: http.MethodPost, path: "/apps/3/users/11/terminate_connections", body: "{}"}.do(t, srv.URL)
	if code != 200 || body != "{}" {
		t.Fatalf("terminate: %d %s", code, body)
	}
	for _, c := range []*testClient{a1, a2} {
		if msg := c.expectError(CodeTerminated); msg != "You got disconnected by the app." {
			t.Fatalf("terminate message %q", msg)
		}
		c.expectClose(CodeTerminated)
	}
	b.alive()
	if got := testutil.ToFloat64(h.metrics.signins.WithLabelValues("ok")); got != 3 {
		t.Fatalf("signins ok = %v, want 3", got)
	}
	if got := h.SignedInUsers(); len(got) != 1 || got[0] != "21" {
		t.Fatalf("signed-in users after terminate = %v, want [21]", got)
	}
}

func TestSigninRefused(t *testing.T) {
	h, srv := newTestHub(t, nil)
	tests := []struct {
		name, result string
		data         func(socketID string) any
	}{
		{"bad signature", "bad_signature", func(s string) any {
			return map[string]string{"auth": SignUser(testKey, "wrong", s, `{"id":"1"}`), "user_data": `{"id":"1"}`}
		}},
		{"another socket's signature", "bad_signature", func(string) any {
			return map[string]string{"auth": SignUser(testKey, testSecret, "1.1", `{"id":"1"}`), "user_data": `{"id":"1"}`}
		}},
		{"numeric id", "bad_user_data", func(s string) any {
			return map[string]string{"auth": SignUser(testKey, testSecret, s, `{"id":1}`), "user_data": `{"id":1}`}
		}},
		{"no id", "bad_user_data", func(s string) any {
			return map[string]string{"auth": SignUser(testKey, testSecret, s, `{"name":"x"}`), "user_data": `{"name":"x"}`}
		}},
		{"no data", "bad_request", func(string) any { return map[string]string{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := testutil.ToFloat64(h.metrics.signins.WithLabelValues(tt.result))
			c := dial(t, srv)
			c.send("pusher:signin", "", tt.data(c.socketID))
			c.expectError(CodeTerminated)
			c.expectClose(CodeTerminated)
			if got := testutil.ToFloat64(h.metrics.signins.WithLabelValues(tt.result)); got != before+1 {
				t.Fatalf("signins{%s} = %v, want %v", tt.result, got, before+1)
			}
		})
	}
	// Before signin, #server-to-user- is nobody's.
	c := dial(t, srv)
	c.subscribe("#server-to-user-1", "", "")
	c.expect("pusher:subscription_error")
	if len(h.SignedInUsers()) != 0 {
		t.Fatalf("signed-in users %v", h.SignedInUsers())
	}
}

func TestUserAuthEndpoint(t *testing.T) {
	_, srv := newTestHub(t, nil)
	post := func(token string, form url.Values) (int, map[string]string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/broadcasting/user-auth", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	code, m := post("t1-admin", url.Values{"socket_id": {"123.456"}})
	if code != 200 {
		t.Fatalf("status %d %v", code, m)
	}
	if m["user_data"] != `{"id":"11","user_info":{"name":"Alice"}}` {
		t.Fatalf("user_data %q", m["user_data"])
	}
	if !VerifyUserAuth(testKey, testSecret, "123.456", m["user_data"], m["auth"]) {
		t.Fatalf("auth %q does not verify", m["auth"])
	}
	if code, _ := post("", url.Values{"socket_id": {"123.456"}}); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	if code, _ := post("t1-admin", url.Values{"socket_id": {"x"}}); code != 400 {
		t.Fatalf("bad socket id: %d", code)
	}
}

func FuzzParseUserData(f *testing.F) {
	for _, s := range []string{`{"id":"1"}`, `{"id":1}`, `{}`, `[]`, `{"id":"a b"}`, `"x"`, `{"id":"1","watchlist":["2","2"]}`, `{"id":"1","watchlist":[1]}`, `{"id":"` + strings.Repeat("a", 200) + `"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseUserData(s)
		if err != nil {
			return
		}
		if !ValidUserID(id) {
			t.Fatalf("ParseUserData(%q) = %q, an invalid id", s, id)
		}
		wl, err := parseWatchlist(s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, w := range wl {
			if !ValidUserID(w) || seen[w] || len(wl) > MaxWatchlist {
				t.Fatalf("parseWatchlist(%q) = %q", s, wl)
			}
			seen[w] = true
		}
	})
}

func TestSendToUserForwards(t *testing.T) {
	h, err := New(Options{Key: testKey, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	var got []APIEvent
	h.ForwardAPIEvents(func(e APIEvent) { got = append(got, e) })
	if err := h.SendToUser("11", "Notice", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Channels[0] != "#server-to-user-11" || got[0].Name != "Notice" || got[0].Data != `{"n":1}` {
		t.Fatalf("forwarded %+v", got)
	}
	if err := h.SendToUser("no spaces", "Notice", 1); err == nil || len(got) != 1 {
		t.Fatalf("invalid user id: err %v, forwarded %d", err, len(got))
	}
}

func TestWatchlist(t *testing.T) {
	_, srv := newTestHub(t, nil)
	watched := func(c *testClient) (string, []string) {
		t.Helper()
		f := c.expect("pusher_internal:watchlist_events")
		var d struct {
			Events []struct {
				Name    string   `json:"name"`
				UserIDs []string `json:"user_ids"`
			} `json:"events"`
		}
		f.decode(t, &d)
		if len(d.Events) != 1 {
			t.Fatalf("watchlist events %s", f.Data)
		}
		return d.Events[0].Name, d.Events[0].UserIDs
	}
	carol := dial(t, srv)
	signin(t, carol, `{"id":"c"}`)
	alice := dial(t, srv)
	signin(t, alice, `{"id":"a","watchlist":["b","c","c"]}`)
	if name, ids := watched(alice); name != "online" || strings.Join(ids, ",") != "c" {
		t.Fatalf("after signin: %s %v, want online [c]", name, ids)
	}
	b1, b2 := dial(t, srv), dial(t, srv)
	signin(t, b1, `{"id":"b"}`)
	if name, ids := watched(alice); name != "online" || strings.Join(ids, ",") != "b" {
		t.Fatalf("b signed in: %s %v", name, ids)
	}
	signin(t, b2, `{"id":"b"}`) // a second connection: no news
	alice.alive()
	b1.ws.Close()
	alice.alive() // b2 is still there
	b2.ws.Close()
	if name, ids := watched(alice); name != "offline" || strings.Join(ids, ",") != "b" {
		t.Fatalf("b left: %s %v", name, ids)
	}
	// A watchlist that is too long or has a bad id refuses the signin.
	long := `{"id":"z","watchlist":[` + strings.Repeat(`"x",`, MaxWatchlist) + `"y"]}`
	for _, ud := range []string{long, `{"id":"z","watchlist":["a b"]}`, `{"id":"z","watchlist":"a"}`} {
		c := dial(t, srv)
		c.send("pusher:signin", "", map[string]string{"auth": SignUser(testKey, testSecret, c.socketID, ud), "user_data": ud})
		c.expectError(CodeTerminated)
	}
}

package smsgw_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sitepulse/sitepulse/sim/smsgw"
)

func TestSMSWireAndControl(t *testing.T) {
	s := smsgw.New(smsgw.Options{Accounts: []smsgw.Account{{Username: "u", APIKey: "k"}}})
	if err := s.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	post := func(key string, form url.Values) (*http.Response, map[string]any) {
		req, _ := http.NewRequest("POST", s.URL()+"/version1/messaging", strings.NewReader(form.Encode()))
		req.Header.Set("apiKey", key)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	resp, out := post("k", url.Values{"username": {"u"}, "to": {"+254711111111,0722"}, "message": {"hi"}})
	if resp.StatusCode != 201 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	data := out["SMSMessageData"].(map[string]any)
	if data["Message"] != "Sent to 1/2 Total Cost: KES 0.8000" {
		t.Errorf("Message %q", data["Message"])
	}
	rs := data["Recipients"].([]any)
	if r := rs[1].(map[string]any); r["statusCode"].(float64) != 403 || r["status"] != "InvalidPhoneNumber" || r["messageId"] != "None" {
		t.Errorf("second recipient %v", r)
	}
	if resp, _ := post("wrong", url.Values{"username": {"u"}, "to": {"+254711111111"}, "message": {"hi"}}); resp.StatusCode != 401 {
		t.Errorf("bad key: status %d", resp.StatusCode)
	}

	ctl := httptest.NewServer(s.ControlHandler()) // httptest listens on loopback
	defer ctl.Close()
	r, err := http.Get(ctl.URL + "/control/sms/messages?to=%2B254711111111")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []smsgw.SMS
	_ = json.NewDecoder(r.Body).Decode(&msgs)
	r.Body.Close()
	if len(msgs) != 1 || msgs[0].Text != "hi" {
		t.Fatalf("messages %+v", msgs)
	}
	r, _ = http.Post(ctl.URL+"/control/sms/faults", "application/json", strings.NewReader(`{"count":2,"http_status":500}`))
	r.Body.Close()
	for i := range 3 {
		resp, _ := post("k", url.Values{"username": {"u"}, "to": {"+254711111111"}, "message": {"hi"}})
		if want := map[bool]int{true: 500, false: 201}[i < 2]; resp.StatusCode != want {
			t.Errorf("send %d: status %d, want %d", i, resp.StatusCode, want)
		}
	}
	r, _ = http.Post(ctl.URL+"/control/reset", "", nil)
	r.Body.Close()
	if got := s.Messages(""); len(got) != 0 {
		t.Errorf("after reset: %d messages", len(got))
	}
}

func TestControlRefusesNonLoopback(t *testing.T) {
	s := smsgw.New(smsgw.Options{})
	defer s.Close()
	req := httptest.NewRequest("GET", "/control/sms/messages", nil)
	req.RemoteAddr = "192.0.2.1:1234"
	w := httptest.NewRecorder()
	s.ControlHandler().ServeHTTP(w, req)
	if w.Code != http.StatusForbidden {
		t.Fatalf("status %d", w.Code)
	}
}

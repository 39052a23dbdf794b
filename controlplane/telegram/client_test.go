package telegram_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/telegram"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/sim/smsgw"
)

const token = "123456:AAsecretTOKENvalue"

// start runs the real simulator on loopback HTTP.
func start(t *testing.T) (*smsgw.Server, *telegram.Client, *testkit.LogBuffer) {
	t.Helper()
	s := smsgw.New(smsgw.Options{Bots: []smsgw.Bot{{Token: token, Chats: []int64{42}}}})
	if err := s.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	var logs testkit.LogBuffer
	return s, telegram.New(telegram.Config{BaseURL: s.URL(), Timeout: 500 * time.Millisecond, Logger: logs.Logger()}), &logs
}

func TestSend(t *testing.T) {
	s, c, _ := start(t)
	id, err := c.Send(context.Background(), token, "42", "Router R1 offline")
	if err != nil {
		t.Fatal(err)
	}
	got := s.TelegramMessages(42)
	if len(got) != 1 || got[0].MessageID != id || got[0].Text != "Router R1 offline" {
		t.Fatalf("received %+v, id %d", got, id)
	}
}

func TestSendFaults(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fault      *smsgw.TelegramFault
		token      string
		chat       string
		code       string
		retryAfter time.Duration
		maybeSent  bool
	}{
		{name: "chat not found", chat: "7", code: controlplane.EINVALID},
		{name: "unknown token", token: "999:nope", code: controlplane.EUNAUTHORIZED},
		{name: "429", fault: &smsgw.TelegramFault{ErrorCode: 429, RetryAfter: 7}, code: controlplane.ERATELIMIT, retryAfter: 7 * time.Second},
		{name: "500", fault: &smsgw.TelegramFault{ErrorCode: 500}, code: controlplane.EUNAVAILABLE},
		{name: "blocked", fault: &smsgw.TelegramFault{ErrorCode: 403}, code: controlplane.EFORBIDDEN},
		{name: "timeout", fault: &smsgw.TelegramFault{Hang: true}, code: controlplane.EUNAVAILABLE, maybeSent: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c, logs := start(t)
			if tc.fault != nil {
				s.FailTelegram(1, *tc.fault)
			}
			tok, chat := token, "42"
			if tc.token != "" {
				tok = tc.token
			}
			if tc.chat != "" {
				chat = tc.chat
			}
			_, err := c.Send(context.Background(), tok, chat, "hello")
			if got := controlplane.ErrorCode(err); got != tc.code {
				t.Fatalf("code %q (%v), want %q", got, err, tc.code)
			}
			if got := telegram.RetryAfter(err); got != tc.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", got, tc.retryAfter)
			}
			if got := telegram.MaybeSent(err); got != tc.maybeSent {
				t.Errorf("MaybeSent = %v, want %v", got, tc.maybeSent)
			}
			if strings.Contains(err.Error(), tok) || logs.Contains(tok) {
				t.Errorf("token leaked: %v / %s", err, logs.String())
			}
		})
	}
}

// A refused connection's url.Error names the URL, token included; the
// client's error must not.
func TestConnectionErrorHidesToken(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	c := telegram.New(telegram.Config{BaseURL: base, Timeout: time.Second})
	_, err := c.Send(context.Background(), token, "42", "x")
	if controlplane.ErrorCode(err) != controlplane.EUNAVAILABLE || strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "AAsecret") {
		t.Fatalf("err %v", err)
	}
	if telegram.MaybeSent(err) {
		t.Errorf("a refused connection cannot have sent")
	}
}

// FuzzSendAnswer feeds arbitrary answers (a fake server written here: the
// point is the decoder) to Send; it must not panic nor leak the token.
func FuzzSendAnswer(f *testing.F) {
	f.Add(200, `{"ok":true,"result":{"message_id":5}}`)
	f.Add(429, `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}`)
	f.Add(400, `not json `+token)
	var status int
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	c := telegram.New(telegram.Config{BaseURL: srv.URL, Timeout: time.Second})
	f.Fuzz(func(t *testing.T, st int, b string) {
		if st < 200 || st > 599 {
			st = 200
		}
		status, body = st, b
		id, err := c.Send(context.Background(), token, "42", "x")
		if err != nil && strings.Contains(err.Error(), token) {
			t.Fatalf("token in %v", err)
		}
		if err == nil && st != 200 {
			t.Fatalf("status %d accepted as %d", st, id)
		}
	})
}

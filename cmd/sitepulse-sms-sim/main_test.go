package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sitepulse/sitepulse/internal/testkit"
)

func TestMainRunsAndServesMetrics(t *testing.T) {
	m := NewMain()
	var logs testkit.LogBuffer
	m.Logger = logs.Logger()
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	resp, err := http.Post(m.APIURL()+"/bot1:x/sendMessage", "application/json", strings.NewReader(`{"chat_id":5,"text":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("sendMessage status %d", resp.StatusCode)
	}
	resp, err = http.Get(m.ControlURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `sitepulse_sms_sim_telegram_messages_total{status="200"} 1`) {
		t.Fatalf("metrics lack the message:\n%s", b)
	}
	if logs.Contains("sitepulse-sim-key") {
		t.Error("api key logged")
	}
}

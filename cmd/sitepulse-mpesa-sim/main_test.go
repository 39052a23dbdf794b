package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/sim/daraja"
)

var allFlags = []string{"addr", "control-addr", "consumer-key", "consumer-secret", "consumer-secret-file", "shortcode", "passkey",
	"passkey-file", "token-ttl", "production", "locked-as-error", "seed", "failure-rate", "failure-codes", "callback-delay",
	"balance-item", "callback-timeout", "validation-timeout", "log-level"}

func TestHelpListsEveryFlag(t *testing.T) {
	var buf bytes.Buffer
	m := NewMain()
	m.Stderr = &buf
	if err := m.ParseFlags([]string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("got %v, want flag.ErrHelp", err)
	}
	for _, name := range allFlags {
		line := regexp.MustCompile(`(?m)^   --` + name + `( [a-z]+)?  .*\[\$` + envName(name) + `\]$`)
		if !line.MatchString(buf.String()) {
			t.Errorf("help lacks a line for --%s with [$%s]:\n%s", name, envName(name), buf.String())
		}
	}
	for _, heading := range []string{"   Daraja API\n", "   Customers\n", "   Callbacks\n", "   HTTP\n", "   Logging\n"} {
		if !strings.Contains(buf.String(), heading) {
			t.Errorf("help lacks group %q", heading)
		}
	}
}

func TestFlagsAndEnv(t *testing.T) {
	t.Setenv("SITEPULSE_MPESA_SIM_SHORTCODE", "600100")
	t.Setenv("SITEPULSE_MPESA_SIM_FAILURE_RATE", "0.25")
	t.Setenv("SITEPULSE_MPESA_SIM_CALLBACK_DELAY", "7s")
	m := NewMain()
	if err := m.ParseFlags([]string{"--shortcode", "600200", "--production"}); err != nil {
		t.Fatal(err)
	}
	if m.ShortCode != "600200" || m.FailureRate != 0.25 || m.CallbackDelay != 7*time.Second || !m.Production {
		t.Errorf("got shortcode %s, failure rate %v, delay %v, production %v; want the flag over the env, env over defaults",
			m.ShortCode, m.FailureRate, m.CallbackDelay, m.Production)
	}
	if err := NewMain().ParseFlags([]string{"extra"}); err == nil {
		t.Error("a stray argument was accepted")
	}
	t.Setenv("SITEPULSE_MPESA_SIM_TOKEN_TTL", "soon")
	if err := NewMain().ParseFlags(nil); err == nil || !strings.Contains(err.Error(), "SITEPULSE_MPESA_SIM_TOKEN_TTL") {
		t.Errorf("bad env value: %v, want an error naming the variable", err)
	}
}

func getJSON(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// Run on port 0 with secrets from files: a token, an STK push whose
// callback arrives, the control API and /metrics, then Close.
func TestRunWithControlAPI(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "secret"), []byte("s3cret\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "passkey"), []byte("pk-from-file\n"), 0o600)
	var logs testkit.LogBuffer
	m := NewMain()
	m.Stderr = &logs
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0", "--consumer-key", "ck",
		"--consumer-secret-file", filepath.Join(dir, "secret"), "--passkey-file", filepath.Join(dir, "passkey"),
		"--callback-delay", "0s", "--log-level", "debug"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })

	req, _ := http.NewRequest("GET", m.APIURL()+"/oauth/v1/generate?grant_type=client_credentials", nil)
	req.SetBasicAuth("ck", "s3cret")
	status, out := getJSON(t, req)
	tok, _ := out["access_token"].(string)
	if status != 200 || tok == "" || out["expires_in"] != "3599" {
		t.Fatalf("token: %d %v", status, out)
	}

	got := make(chan []byte, 1)
	merchant := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write([]byte(`{"ResultCode":0,"ResultDesc":"Accepted"}`))
		got <- b
	})}
	ml := testListener(t)
	go merchant.Serve(ml)
	t.Cleanup(func() { merchant.Close() })

	ts := daraja.Timestamp(time.Now())
	body, _ := json.Marshal(map[string]any{"BusinessShortCode": "174379", "Password": daraja.Password("174379", "pk-from-file", ts),
		"Timestamp": ts, "TransactionType": "CustomerPayBillOnline", "Amount": 1, "PartyA": "254708374149", "PartyB": "174379",
		"PhoneNumber": "254708374149", "CallBackURL": "http://" + ml.Addr().String() + "/cb", "AccountReference": "ref", "TransactionDesc": "d"})
	req, _ = http.NewRequest("POST", m.APIURL()+"/mpesa/stkpush/v1/processrequest", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if status, out := getJSON(t, req); status != 200 || out["ResponseCode"] != "0" {
		t.Fatalf("push: %d %v", status, out)
	}
	select {
	case b := <-got:
		if !strings.Contains(string(b), `"ResultCode":0`) {
			t.Errorf("callback %s", b)
		}
	case <-time.After(testkit.DefaultWait):
		t.Fatal("no callback")
	}

	req, _ = http.NewRequest("GET", m.ControlURL()+"/control/transactions", nil)
	if status, out := getJSON(t, req); status != 200 || len(out["transactions"].([]any)) != 1 {
		t.Errorf("control transactions: %d %v", status, out)
	}
	resp, err := http.Get(m.ControlURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `sitepulse_mpesa_sim_stk_push_total{outcome="accepted"} 1`) {
		t.Errorf("metrics lack the accepted push:\n%s", metrics)
	}
	if logs.Contains("s3cret") || logs.Contains("pk-from-file") {
		t.Error("a secret was logged")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(m.ControlURL() + "/control/health"); err == nil {
		t.Error("control API still answers after Close")
	}
}

// TestSIGTERM runs the real main in a child process and stops it with
// SIGTERM.
func TestSIGTERM(t *testing.T) {
	if os.Getenv("SITEPULSE_MPESA_SIM_TEST_CHILD") == "1" {
		os.Args = []string{"sitepulse-mpesa-sim", "--addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0"}
		main()
		return
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSIGTERM$")
	cmd.Env = append(os.Environ(), "SITEPULSE_MPESA_SIM_TEST_CHILD=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	apiRe := regexp.MustCompile(`msg="sitepulse-mpesa-sim running" api=(\S+)`)
	var api string
	for api == "" && sc.Scan() {
		if m := apiRe.FindStringSubmatch(sc.Text()); m != nil {
			api = m[1]
		}
	}
	if api == "" {
		t.Fatal("child exited before listening")
	}
	req, _ := http.NewRequest("GET", api+"/oauth/v1/generate?grant_type=client_credentials", nil)
	req.SetBasicAuth(daraja.DefaultConsumerKey, daraja.DefaultConsumerSecret)
	if status, _ := getJSON(t, req); status != 200 {
		t.Fatalf("token from the child: %d", status)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	stopped := false
	for sc.Scan() {
		stopped = stopped || strings.Contains(sc.Text(), "stopping")
	}
	if err := cmd.Wait(); err != nil || !stopped {
		t.Fatalf("child exit: %v, logged stopping: %v", err, stopped)
	}
}

func testListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// TestVouchersCLI drives the vouchers commands against a stand-in API:
// what each sends (prices in exact minor units) and prints, and the PDF
// saved byte for byte.
func TestVouchersCLI(t *testing.T) {
	pdf := []byte("%PDF-1.3 sheets\x00\xff")
	var mu sync.Mutex
	var reqs []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, strings.TrimSpace(r.Method+" "+r.URL.RequestURI()+" "+string(b)))
		mu.Unlock()
		until := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
		batch := controlplane.VoucherBatch{ID: 4, PlanID: 3, PlanName: "Hour", Count: 20, Unused: 19, Revoked: 1, Price: controlplane.KES(2000), ExpiresAt: &until}
		var v any
		switch {
		case r.URL.Path == "/api/v1/vouchers/batches" && r.Method == http.MethodPost:
			var req controlplane.VoucherBatchRequest
			_ = json.Unmarshal(b, &req)
			batch.Count = req.Count
			if req.Price != nil {
				batch.Price = controlplane.KES(*req.Price)
			}
			w.WriteHeader(http.StatusCreated)
			v = batch
		case r.URL.Path == "/api/v1/vouchers/batches":
			v = controlplane.Page[controlplane.VoucherBatch]{Data: []controlplane.VoucherBatch{batch}, Total: 1}
		case r.URL.Path == "/api/v1/vouchers/batches/4/pdf":
			w.Header().Set("Content-Type", "application/pdf")
			w.Write(pdf)
			return
		case r.URL.Path == "/api/v1/vouchers":
			v = controlplane.Page[controlplane.Voucher]{Data: []controlplane.Voucher{{ID: 40, BatchID: 4, Code: "KWACDE3467", PlanName: "Hour",
				Price: controlplane.KES(2000), Status: controlplane.VoucherActive, RedeemedBy: "02:00:00:00:00:01"}}, Total: 20}
		case r.URL.Path == "/api/v1/vouchers/40/revoke":
			v = controlplane.Voucher{ID: 40, Code: "KWACDE3467", Status: controlplane.VoucherRevoked}
		default:
			w.WriteHeader(http.StatusNotFound)
			v = controlplane.ErrorBody{Error: controlplane.ErrorDetail{Code: controlplane.ENOTFOUND, Message: "no such endpoint"}}
		}
		_ = json.NewEncoder(w).Encode(v)
	}))
	defer srv.Close()
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	if err := saveCredentials(creds, credentials{Server: srv.URL, Email: "admin@isp.test", Token: "tok"}); err != nil {
		t.Fatal(err)
	}
	sheet := filepath.Join(dir, "batch.pdf")
	for _, tc := range []struct {
		name    string
		args    []string
		reqs    []string
		out     []string
		errText string
	}{
		{"generate with a PDF", []string{"vouchers", "generate", "--plan", "3", "--count", "20", "--prefix", "KW", "--price", "19.99", "--valid-days", "31", "--pdf", sheet},
			[]string{`POST /api/v1/vouchers/batches {"plan_id":3,"count":20,"length":0,"prefix":"KW","price":1999,"valid_days":31}`, "GET /api/v1/vouchers/batches/4/pdf"},
			[]string{"batch 4: 20 vouchers of Hour at KES 19.99, use by", "printable sheets in " + sheet}, ""},
		{"generate refuses a float price", []string{"vouchers", "generate", "--plan", "3", "--count", "1", "--price", "1.999"}, nil, nil, "--price"},
		{"list", []string{"vouchers", "list", "--batch", "4", "--status", "active"},
			[]string{"GET /api/v1/vouchers?batch_id=4&limit=100&status=active"},
			[]string{"KWACDE3467", "KES 20.00", "active", "02:00:00:00:00:01", "1 of 20 vouchers"}, ""},
		{"batches", []string{"vouchers", "batches"},
			[]string{"GET /api/v1/vouchers/batches?limit=100"}, []string{"Hour", "KES 20.00", "19", "1 of 1 batches"}, ""},
		{"revoke", []string{"vouchers", "revoke", "40"},
			[]string{"POST /api/v1/vouchers/40/revoke"}, []string{"voucher 40 (KWACDE3467): revoked"}, ""},
		{"pdf of an unknown batch", []string{"vouchers", "pdf", "5", sheet},
			[]string{"GET /api/v1/vouchers/batches/5/pdf"}, nil, "no such endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := cliRun(t, "", append(tc.args, "--credentials", creds)...)
			switch {
			case tc.errText == "" && err != nil:
				t.Fatalf("%v: %v\n%s", tc.args, err, out)
			case tc.errText != "" && (err == nil || !strings.Contains(err.Error(), tc.errText)):
				t.Fatalf("%v: err %v, want one containing %q", tc.args, err, tc.errText)
			}
			mu.Lock()
			got := reqs
			reqs = nil
			mu.Unlock()
			if strings.Join(got, "\n") != strings.Join(tc.reqs, "\n") {
				t.Errorf("requests\n%q\nwant\n%q", got, tc.reqs)
			}
			for _, s := range tc.out {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
		})
	}
	if b, err := os.ReadFile(sheet); err != nil || string(b) != string(pdf) {
		t.Fatalf("saved PDF %q, %v; want %q", b, err, pdf)
	}
}

package fanout

import (
	"encoding/json"
	"testing"
)

func TestMaskPhone(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+254712345678", "+2547****678"},
		{"0712345678", "0712****678"},
		{"+254 712 345 678", "+2547****678"},
		{"(071) 234-5678", "0712****678"},
		{"12345", "****45"},
		{"12", "****"},
		{"", ""},
		{"  ", ""},
		{"call me", "****"},
		{"+", "****"},
		{"07123x5678", "****"},
	}
	for _, tt := range tests {
		if got := MaskPhone(tt.in); got != tt.want {
			t.Errorf("MaskPhone(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMaskEmail(t *testing.T) {
	tests := []struct{ in, want string }{
		{"john@example.com", "j***@example.com"},
		{"j@example.com", "j***@example.com"},
		{"élodie@example.fr", "é***@example.fr"},
		{"@example.com", "***@example.com"},
		{"no-at-sign", "***"},
		{"a@b@c", "***"},
		{"a@", "***"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := MaskEmail(tt.in); got != tt.want {
			t.Errorf("MaskEmail(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestScrubValue(t *testing.T) {
	in := map[string]any{
		"user":     "alice",
		"password": "hunter2",
		"nested": map[string]any{
			"api_key":       "k",
			"AuthToken":     "t",
			"phone":         "+254712345678",
			"email":         "john@example.com",
			"shared-secret": "s",
		},
		"list": []any{map[string]any{"client_secret": "x", "msisdn": "0712345678"}},
	}
	got, err := json.Marshal(scrubValue(in))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"list":[{"msisdn":"0712****678"}],"nested":{"email":"j***@example.com","phone":"+2547****678"},"user":"alice"}`
	if string(got) != want {
		t.Errorf("scrubValue = %s, want %s", got, want)
	}
}

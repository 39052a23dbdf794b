package mail_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/mail"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want mail.Config
	}{
		{"smtp://u:p@mx.example.com", mail.Config{Host: "mx.example.com", Port: 587, Username: "u", Password: "p", TLS: mail.TLSStartTLS}},
		{"smtp://mx.example.com:2525?tls=none", mail.Config{Host: "mx.example.com", Port: 2525, TLS: mail.TLSNone}},
		{"smtp://u:p@mx:25?tls=starttls&insecure_skip_verify=true", mail.Config{Host: "mx", Port: 25, Username: "u", Password: "p", TLS: mail.TLSStartTLS, InsecureSkipVerify: true}},
		{"smtps://u%40x:p%2Fq@mx.example.com", mail.Config{Host: "mx.example.com", Port: 465, Username: "u@x", Password: "p/q", TLS: mail.TLSImplicit}},
		{"smtps://[::1]:1465/", mail.Config{Host: "::1", Port: 1465, TLS: mail.TLSImplicit}},
	} {
		got, err := mail.ParseURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		"", "http://mx", "smtp://", "smtp://:p4ss@mx", "smtp://u:p4ss@mx:0", "smtp://u:p4ss@mx:99999",
		"smtp://u:p4ss@mx?tls=implicit", "smtps://u:p4ss@mx?tls=none", "smtp://u:p4ss@mx?p4ss=1",
		"smtp://u:p4ss@mx/path", "smtp://u:p4ss@mx?tls=none&tls=none", "smtp://u:p4ss@mx?insecure_skip_verify=maybe",
		"smtp:opaque", "smtp://u:p4ss@mx:port", "smtp://u:p4ss@m x",
	} {
		_, err := mail.ParseURL(in)
		if controlplane.ErrorCode(err) != controlplane.EINVALID {
			t.Errorf("ParseURL(%q): %v, want EINVALID", in, err)
			continue
		}
		if strings.Contains(err.Error(), "p4ss") {
			t.Errorf("ParseURL(%q) error shows the password: %v", in, err)
		}
	}
}

func TestConfigHidesPassword(t *testing.T) {
	c := mail.Config{Host: "mx", Port: 587, Username: "u", Password: secret, TLS: mail.TLSStartTLS}
	for _, s := range []string{c.String(), fmt.Sprint(c), c.LogValue().String()} {
		if strings.Contains(s, secret) {
			t.Errorf("password shown: %s", s)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"smtp://u:p@mx.example.com:587?tls=starttls", "smtp://mx?tls=none", "smtps://u:p@mx",
		"smtps://[::1]:465/?insecure_skip_verify=true", "smtp://u:p@mx?x=%zz", "smtp://u:%zz@mx",
	} {
		f.Add(s, "pw-secret")
	}
	f.Fuzz(func(t *testing.T, s, pw string) {
		// The password is put into the URL's user info so that an error
		// echoing any part of it is caught.
		for _, in := range []string{s, strings.Replace(s, "@", ":"+pw+"@", 1)} {
			c, err := mail.ParseURL(in)
			if err != nil {
				if controlplane.ErrorCode(err) != controlplane.EINVALID {
					t.Fatalf("ParseURL(%q): %v is not EINVALID", in, err)
				}
				if len(pw) >= 4 && strings.Contains(err.Error(), pw) {
					t.Fatalf("ParseURL(%q) error shows the password: %v", in, err)
				}
				if len(in) > 20 && strings.Contains(err.Error(), in) {
					t.Fatalf("ParseURL(%q) error shows the URL: %v", in, err)
				}
				continue
			}
			if c.Host == "" || c.Port < 1 || c.Port > 65535 {
				t.Fatalf("ParseURL(%q) = %+v", in, c)
			}
			if c.TLS != mail.TLSNone && c.TLS != mail.TLSStartTLS && c.TLS != mail.TLSImplicit {
				t.Fatalf("ParseURL(%q): tls %q", in, c.TLS)
			}
			if c.Password != "" && len(c.Password) >= 4 && strings.Contains(c.String(), c.Password) && !strings.Contains(c.Host+c.Username, c.Password) {
				t.Fatalf("String shows the password: %s", c)
			}
		}
	})
}

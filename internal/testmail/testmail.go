package testmail

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/internal/testkit"
)

// EnvBinary names the environment variable holding the Mailpit binary's path.
const EnvBinary = "SITEPULSE_MAILPIT"

// Version is the Mailpit built when no binary is found.
const Version = "v1.33.1"

// Option adds Mailpit flags.
type Option func(*settings)

type settings struct {
	auth       bool
	startTLS   bool
	implicit   bool
	recipients string
}

// WithAuth makes Mailpit offer AUTH and accept any user name and password
// (without TLS too, unless a TLS option is given).
func WithAuth() Option { return func(s *settings) { s.auth = true } }

// WithStartTLS gives Mailpit a self-signed certificate and makes it
// require STARTTLS; AUTH accepts any credentials.
func WithStartTLS() Option { return func(s *settings) { s.startTLS = true } }

// WithImplicitTLS gives Mailpit a self-signed certificate and makes it
// speak TLS from the first byte (SMTPS).
func WithImplicitTLS() Option { return func(s *settings) { s.implicit = true } }

// WithAllowedRecipients makes Mailpit refuse (550) recipients that do not
// match the regular expression re.
func WithAllowedRecipients(re string) Option { return func(s *settings) { s.recipients = re } }

// Mailpit is a running server, stopped when the test ends.
type Mailpit struct {
	SMTPHost string
	SMTPPort int
	APIURL   string // like http://127.0.0.1:P, without a trailing slash
}

// Address is a mailbox in Mailpit's API.
type Address struct {
	Name    string
	Address string
}

// Summary is one message in Mailpit's message list.
type Summary struct {
	ID        string
	MessageID string
	From      Address
	To        []Address
	Subject   string
}

// Full is one message with its bodies.
type Full struct {
	ID        string
	MessageID string
	From      Address
	To        []Address
	Subject   string
	Text      string
	HTML      string
}

// Start runs Mailpit for the test and waits until its API answers.
func Start(tb testing.TB, opts ...Option) *Mailpit {
	tb.Helper()
	var s settings
	for _, o := range opts {
		o(&s)
	}
	bin := binary(tb)
	dir := tb.TempDir()
	var extra []string
	tlsOn := s.startTLS || s.implicit
	if s.auth || s.startTLS {
		extra = append(extra, "--smtp-auth-accept-any")
		if !tlsOn {
			extra = append(extra, "--smtp-auth-allow-insecure")
		}
	}
	if tlsOn {
		cert, key := selfSigned(tb, dir)
		extra = append(extra, "--smtp-tls-cert", cert, "--smtp-tls-key", key)
		if s.implicit {
			extra = append(extra, "--smtp-require-tls")
		} else {
			extra = append(extra, "--smtp-require-starttls")
		}
	}
	if s.recipients != "" {
		extra = append(extra, "--smtp-allowed-recipients", s.recipients)
	}
	// A free port found here may be taken before Mailpit binds it: retry.
	var last string
	for attempt := 1; attempt <= 3; attempt++ {
		m, out, ok := try(tb, bin, dir, attempt, extra)
		if ok {
			return m
		}
		last = out
	}
	tb.Fatalf("testmail: mailpit did not start in 3 attempts; last output:\n%s", last)
	return nil
}

// try starts Mailpit once and reports whether its API came up; if the
// process exited instead, it returns its output.
func try(tb testing.TB, bin, dir string, attempt int, extra []string) (*Mailpit, string, bool) {
	tb.Helper()
	smtpPort, apiPort := freePort(tb), freePort(tb)
	args := append([]string{
		"--smtp", "127.0.0.1:" + strconv.Itoa(smtpPort),
		"--listen", "127.0.0.1:" + strconv.Itoa(apiPort),
		"--database", filepath.Join(dir, fmt.Sprintf("mp%d.db", attempt)),
		"--disable-version-check", "-q",
	}, extra...)
	cmd := exec.Command(bin, args...)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("testmail: start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	m := &Mailpit{SMTPHost: "127.0.0.1", SMTPPort: smtpPort, APIURL: "http://127.0.0.1:" + strconv.Itoa(apiPort)}
	client := &http.Client{Timeout: time.Second}
	up := false
	testkit.Eventually(tb, 30*time.Second, "mailpit API at "+m.APIURL, func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		resp, err := client.Get(m.APIURL + "/api/v1/info")
		if err != nil {
			return false
		}
		resp.Body.Close()
		up = resp.StatusCode == http.StatusOK
		return up
	})
	if !up {
		<-exited
		return nil, out.String(), false
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	return m, "", true
}

// freePort returns a loopback TCP port nothing listened on a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testmail: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// binary finds Mailpit or builds it once per process.
func binary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv(EnvBinary); p != "" {
		return p
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		if p := filepath.Join(home, "go", "bin", "mailpit"); isFile(p) {
			return p
		}
	}
	buildOnce.Do(func() {
		cache, err := os.UserCacheDir()
		if err != nil {
			buildErr = err
			return
		}
		gobin := filepath.Join(cache, "sitepulse", "bin")
		built = filepath.Join(gobin, "mailpit")
		if isFile(built) {
			return
		}
		cmd := exec.Command("go", "install", "github.com/axllent/mailpit@"+Version)
		cmd.Env = append(os.Environ(), "GOBIN="+gobin)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go install mailpit@%s: %v\n%s", Version, err, out)
		}
	})
	if buildErr != nil {
		tb.Fatalf("testmail: no mailpit binary (set %s): %v", EnvBinary, buildErr)
	}
	return built
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// selfSigned writes an ECDSA certificate for 127.0.0.1 and localhost and
// its key into dir.
func selfSigned(tb testing.TB, dir string) (certFile, keyFile string) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "testmail"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return certFile, keyFile
}

// Messages lists what Mailpit holds, newest first.
func (m *Mailpit) Messages(tb testing.TB) []Summary {
	tb.Helper()
	var list struct{ Messages []Summary }
	m.get(tb, "/api/v1/messages", &list)
	return list.Messages
}

// Message returns one message with its text and HTML bodies.
func (m *Mailpit) Message(tb testing.TB, id string) Full {
	tb.Helper()
	var f Full
	m.get(tb, "/api/v1/message/"+id, &f)
	return f
}

// Headers returns one message's headers as Mailpit parsed them.
func (m *Mailpit) Headers(tb testing.TB, id string) map[string][]string {
	tb.Helper()
	h := map[string][]string{}
	m.get(tb, "/api/v1/message/"+id+"/headers", &h)
	return h
}

// WaitCount waits until Mailpit holds n messages and returns them.
func (m *Mailpit) WaitCount(tb testing.TB, n int) []Summary {
	tb.Helper()
	var got []Summary
	testkit.Eventually(tb, 0, fmt.Sprintf("%d messages in mailpit", n), func() bool {
		got = m.Messages(tb)
		return len(got) == n
	})
	return got
}

func (m *Mailpit) get(tb testing.TB, path string, v any) {
	tb.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(m.APIURL + path)
	if err != nil {
		tb.Fatalf("testmail: GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("testmail: GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		tb.Fatalf("testmail: GET %s: decode: %v", path, err)
	}
}

// syncBuffer collects the process output from its copying goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

package agent_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	mqttsrv "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
	"github.com/sitepulse/sitepulse/sim"
)

// testPKI makes a CA and a server certificate for 127.0.0.1.
func testPKI(t *testing.T) (server *tls.Config, roots *x509.CertPool) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(ca)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, roots
}

// api-ssl to the router and ssl:// to the broker, both verified against a
// CA; without the CA the router connection is refused.
func TestTLSToRouterAndBroker(t *testing.T) {
	serverTLS, roots := testPKI(t)
	rcv := newReceiver()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := mqttsrv.New(&mqttsrv.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddListener(listeners.NewNet("tls", tls.NewListener(ln, serverTLS))); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if err := srv.Subscribe("sp/v1/+/#", 1, rcv.onPublish); err != nil {
		t.Fatal(err)
	}
	router := startSim(t, sim.Config{TLS: serverTLS})
	addUsers(t, router, "t", 1)

	cfg := testConfig(t, router, "ssl://"+ln.Addr().String(), nil)
	cfg.RouterTLS = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	cfg.MQTTTLS = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	a := startAgent(t, cfg)
	waitReady(t, a, rcv)
	if _, err := router.LoginHotspot("t-h-0", mac(1), ip(1)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "a start over TLS", func() bool { return len(rcv.ofType(protocol.EventSessionStarted)) == 1 })
	a.stop(t)

	bad := testConfig(t, router, "ssl://"+ln.Addr().String(), nil)
	bad.RouterTLS = &tls.Config{MinVersion: tls.VersionTLS12} // system roots do not know the test CA
	bad.MQTTTLS = cfg.MQTTTLS
	b := startAgent(t, bad)
	testkit.Eventually(t, 10*time.Second, "a certificate error", func() bool {
		s := b.Status(context.Background())
		return !s.Router.Connected && strings.Contains(s.Router.LastError, "certificate")
	})
}

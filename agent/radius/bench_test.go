package radius

import (
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/sitepulse/sitepulse/protocol"
)

// BenchmarkAccessAccept measures Access-Request → Access-Accept over UDP
// loopback, one request in flight, as ns/op: building and sending the
// request, the server's parse, Message-Authenticator check, duplicate
// cache, password check, decision and signed reply, and reading it back.
// Each request has a new Identifier and authenticator, so none is a
// retransmission.
func BenchmarkAccessAccept(b *testing.B) {
	s := startServer(b, func(c *Config) { c.RequireMessageAuthenticator = true })
	s.dec.add(protocol.KindHotspot, "alice", Secret{Password: testPassword})
	s.dec.set(func(f *fakeDecider) {
		f.decide = func(Request) Decision {
			return Decision{Accept: true, RateLimit: "2M/5M", SessionTimeout: time.Hour, InterimInterval: 5 * time.Minute}
		}
	})
	for _, bc := range []struct {
		name string
		req  func() *radius.Packet
	}{
		{"pap", func() *radius.Packet { return papRequest(b, "alice", testPassword) }},
		{"chap", func() *radius.Packet { return chapRequest(b, "alice", testPassword, []byte("0123456789abcdef")) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := dialRaw(b, s.AuthAddr())
			b.ReportAllocs()
			for b.Loop() {
				// Keep the Decider's request log from growing with b.N.
				s.dec.set(func(f *fakeDecider) { f.reqs = f.reqs[:0] })
				c.send(encode(b, bc.req()))
				resp := c.read(5 * time.Second)
				if resp == nil || radius.Code(resp[0]) != radius.CodeAccessAccept {
					b.Fatalf("no Access-Accept: % x", resp)
				}
			}
		})
	}
}

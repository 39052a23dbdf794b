package radius

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
)

// acctRequest is an Accounting-Request as RouterOS's hotspot sends it.
func acctRequest(t testing.TB, status rfc2866.AcctStatusType, session string) *radius.Packet {
	t.Helper()
	p := radius.New(radius.CodeAccountingRequest, testSecret)
	_ = rfc2866.AcctStatusType_Set(p, status)
	_ = rfc2866.AcctSessionID_SetString(p, session)
	_ = rfc2865.UserName_SetString(p, "alice")
	_ = rfc2865.ServiceType_Set(p, rfc2865.ServiceType_Value_LoginUser)
	_ = rfc2865.CallingStationID_SetString(p, "aa:bb:cc:dd:ee:0f")
	_ = rfc2865.FramedIPAddress_Set(p, net.IPv4(10, 5, 0, 7))
	_ = rfc2865.NASIdentifier_SetString(p, "site-a")
	return p
}

func TestAccounting(t *testing.T) {
	s := startServer(t, nil)
	at := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)

	start := acctRequest(t, rfc2866.AcctStatusType_Value_Start, "0000001A")
	_ = rfc2869.EventTimestamp_Set(start, at)
	interim := acctRequest(t, rfc2866.AcctStatusType_Value_InterimUpdate, "0000001A")
	_ = rfc2866.AcctSessionTime_Set(interim, 300)
	_ = rfc2866.AcctInputOctets_Set(interim, 7)
	_ = rfc2869.AcctInputGigawords_Set(interim, 2)
	_ = rfc2866.AcctOutputOctets_Set(interim, 4000)
	_ = rfc2866.AcctInputPackets_Set(interim, 11)
	_ = rfc2866.AcctOutputPackets_Set(interim, 12)
	_ = rfc2869.EventTimestamp_Set(interim, at.Add(5*time.Minute))
	stop := acctRequest(t, rfc2866.AcctStatusType_Value_Stop, "0000001A")
	_ = rfc2866.AcctTerminateCause_Set(stop, rfc2866.AcctTerminateCause_Value_AdminReset)
	_ = rfc2866.AcctSessionTime_Set(stop, 310)
	_ = rfc2866.AcctDelayTime_Set(stop, 4) // no Event-Timestamp: receipt time less the delay
	sign(t, stop)                          // a signed one is answered signed

	before := time.Now()
	for _, p := range []*radius.Packet{start, interim, stop} {
		resp := exchange(t, p, s.AcctAddr())
		if resp.Code != radius.CodeAccountingResponse {
			t.Fatalf("got %v", resp.Code)
		}
		if has := len(rfc2869.MessageAuthenticator_Get(resp)) > 0; has != (p == stop) {
			t.Errorf("%v: Message-Authenticator in the response %v, in the request %v", rfc2866.AcctStatusType_Get(p), has, p == stop)
		}
	}
	recs := s.dec.records()
	if len(recs) != 3 {
		t.Fatalf("records: got %d, want 3", len(recs))
	}
	want0 := Accounting{Status: AcctStart, Kind: protocol.KindHotspot, AcctSessionID: "0000001A", User: "alice",
		MAC: "AA:BB:CC:DD:EE:0F", IP: "10.5.0.7", NASID: "site-a", EventTime: at}
	if recs[0] != want0 {
		t.Errorf("start: got %+v, want %+v", recs[0], want0)
	}
	want1 := want0
	want1.Status, want1.SessionTime, want1.EventTime = AcctInterim, 300*time.Second, at.Add(5*time.Minute)
	want1.InputOctets, want1.OutputOctets, want1.InputPackets, want1.OutputPackets = 2<<32+7, 4000, 11, 12
	if recs[1] != want1 {
		t.Errorf("interim: got %+v, want %+v", recs[1], want1)
	}
	if r := recs[2]; r.Status != AcctStop || r.TerminateCause != 6 || r.SessionTime != 310*time.Second {
		t.Errorf("stop: got %+v", r)
	}
	if et := recs[2].EventTime; et.Before(before.Add(-5*time.Second)) || et.After(time.Now().Add(-4*time.Second)) {
		t.Errorf("stop EventTime %v, want receipt time less 4 s", et)
	}
	if got := s.requests(typeAccounting, resultAcct); got != 3 {
		t.Errorf("acct count %v", got)
	}
}

// The router may forget a record once answered, so the answer waits for
// Account to return nil; until then the router's retransmission is
// handled afresh, and the record lands once.
func TestAccountingAnsweredOnlyWhenDurable(t *testing.T) {
	s := startServer(t, nil)
	s.dec.set(func(f *fakeDecider) { f.acctErr = errors.New("disk full") })
	wire := encode(t, acctRequest(t, rfc2866.AcctStatusType_Value_Stop, "0000002B"))
	c := dialRaw(t, s.AcctAddr())

	c.send(wire)
	testkit.Eventually(t, 0, "the failed Account", func() bool { return s.requests(typeAccounting, resultAcctFailed) == 1 })
	if got := c.read(100 * time.Millisecond); got != nil {
		t.Fatalf("answered a record that is not durable: % x", got)
	}

	s.dec.set(func(f *fakeDecider) { f.acctErr = nil })
	c.send(wire) // the router's retransmission: same bytes
	resp := c.read(5 * time.Second)
	if resp == nil {
		t.Fatal("no Accounting-Response once durable")
	}
	if !radius.IsAuthenticResponse(resp, wire, testSecret) || radius.Code(resp[0]) != radius.CodeAccountingResponse {
		t.Fatalf("bad response % x", resp)
	}
	if _, calls, recs := s.dec.counts(); calls != 2 || recs != 1 {
		t.Errorf("Account calls %d, records %d; want 2 and 1", calls, recs)
	}
}

func TestRetransmitServedFromCache(t *testing.T) {
	s := startServer(t, nil)
	s.dec.add(protocol.KindHotspot, "alice", Secret{Password: testPassword})

	t.Run("access", func(t *testing.T) {
		c := dialRaw(t, s.AuthAddr())
		wire := encode(t, chapRequest(t, "alice", testPassword, []byte("challenge-000001")))
		c.send(wire)
		first := c.read(5 * time.Second)
		c.send(wire)
		second := c.read(5 * time.Second)
		if first == nil || !bytes.Equal(first, second) {
			t.Fatalf("retransmission answered differently:\n% x\n% x", first, second)
		}
		if d, _, _ := s.dec.counts(); d != 1 {
			t.Errorf("Decide calls %d, want 1", d)
		}
		// Same identifier from another port is another request.
		c2 := dialRaw(t, s.AuthAddr())
		c2.send(wire)
		if c2.read(5*time.Second) == nil {
			t.Fatal("no answer")
		}
		if d, _, _ := s.dec.counts(); d != 2 {
			t.Errorf("Decide calls %d, want 2 (other source port)", d)
		}
	})

	t.Run("accounting", func(t *testing.T) {
		c := dialRaw(t, s.AcctAddr())
		wire := encode(t, acctRequest(t, rfc2866.AcctStatusType_Value_InterimUpdate, "0000003C"))
		for i := 0; i < 3; i++ {
			c.send(wire)
			if c.read(5*time.Second) == nil {
				t.Fatalf("copy %d unanswered", i)
			}
		}
		if _, calls, recs := s.dec.counts(); calls != 1 || recs != 1 {
			t.Errorf("Account calls %d, records %d; want 1 and 1", calls, recs)
		}
		if got := s.requests(typeAccounting, resultRetransmit); got != 2 {
			t.Errorf("retransmit count %v, want 2", got)
		}
	})

	t.Run("while in hand", func(t *testing.T) {
		gate := make(chan struct{})
		s.dec.set(func(f *fakeDecider) { f.acctGate = gate })
		c := dialRaw(t, s.AcctAddr())
		wire := encode(t, acctRequest(t, rfc2866.AcctStatusType_Value_Stop, "0000003C"))
		c.send(wire)
		c.send(wire)
		testkit.Eventually(t, 0, "the copy to be seen", func() bool { return s.requests(typeAccounting, resultRetransmit) == 3 })
		close(gate)
		if c.read(5*time.Second) == nil {
			t.Fatal("no answer")
		}
		if got := c.read(100 * time.Millisecond); got != nil {
			t.Error("two answers")
		}
		if _, calls, _ := s.dec.counts(); calls != 2 {
			t.Errorf("Account calls %d, want 2 (one per distinct record)", calls)
		}
	})
}

func TestDupCacheBoundedAndExpiring(t *testing.T) {
	c := newDupCache(3, time.Minute)
	now := time.Unix(1000, 0)
	k := func(i byte) dupKey { return dupKey{id: i} }
	for i := byte(0); i < 5; i++ {
		if st, _ := c.begin(k(i), now); st != dupNew {
			t.Fatalf("key %d: %v", i, st)
		}
		c.finish(k(i), []byte{i})
	}
	if c.len() != 3 {
		t.Errorf("len %d, want 3", c.len())
	}
	if st, _ := c.begin(k(0), now); st != dupNew {
		t.Error("evicted key still answered")
	}
	if st, b := c.begin(k(4), now); st != dupAnswered || b[0] != 4 {
		t.Errorf("recent key: %v %v", st, b)
	}
	if st, _ := c.begin(k(4), now.Add(2*time.Minute)); st != dupNew {
		t.Error("expired key still answered")
	}
	c.forget(k(4))
	if st, _ := c.begin(k(4), now.Add(2*time.Minute)); st != dupNew {
		t.Error("forgotten key still known")
	}
}

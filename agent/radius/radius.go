package radius

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/protocol"
)

// Method is how an Access-Request proved its password.
type Method string

// Authentication methods.
const (
	MethodPAP      Method = "pap"
	MethodCHAP     Method = "chap"
	MethodMSCHAPv2 Method = "mschapv2"
	// MethodMSCHAPv1 is MS-CHAP (RFC 2433): RouterOS does not send it, but
	// FreeRADIUS's radtest -t mschap does, and it needs only the NT hash.
	MethodMSCHAPv1 Method = "mschap"
)

// Secret is what an account's password can be checked with: the clear
// text (all methods) or only the NT hash (PAP and MS-CHAP; CHAP then
// fails with reason "chap needs the clear-text password"). A Secret with
// neither (Password "" and HasNT false) matches nothing.
type Secret struct {
	Password string
	NTHash   [16]byte
	HasNT    bool
}

// Request is a verified Access-Request: the password checked out.
type Request struct {
	// Kind is KindPPPoE when Framed-Protocol=PPP or Service-Type=Framed-User,
	// else KindHotspot.
	Kind protocol.SessionKind
	// User is User-Name, MAC Calling-Station-Id (normalised to
	// AA:BB:CC:DD:EE:FF when it is a MAC), IP Framed-IP-Address ("" when
	// absent).
	User, MAC, IP string
	// NASID is NAS-Identifier (the router's identity), NASIP NAS-IP-Address,
	// NASPortID NAS-Port-Id (the interface).
	NASID, NASIP, NASPortID string
	// AcctSessionID is the Acct-Session-Id the router will use in
	// accounting for this session ("" when it sent none).
	AcctSessionID string
	Method        Method
}

// Decision is the Decider's answer to a verified Access-Request.
type Decision struct {
	Accept bool
	// Reason becomes the Reply-Message of a reject (shown on the hotspot
	// login page).
	Reason string
	// Profile is Mikrotik-Group ("" : none).
	Profile string
	// RateLimit is Mikrotik-Rate-Limit, "rx/tx" ("": the profile's).
	RateLimit string
	// SessionTimeout is Session-Timeout, in seconds rounded down and at
	// least 1 s when positive (0: none).
	SessionTimeout time.Duration
	// TotalLimit is bytes in + out, sent as Mikrotik-Total-Limit and
	// Mikrotik-Total-Limit-Gigawords (0: none).
	TotalLimit uint64
	// InterimInterval is Acct-Interim-Interval (0: none).
	InterimInterval time.Duration
	// FramedPool is Framed-Pool ("": none).
	FramedPool string
}

// AcctStatus is Acct-Status-Type.
type AcctStatus int

// Accounting status types (Accounting-On/Off are passed through too).
const (
	AcctStart         AcctStatus = 1
	AcctStop          AcctStatus = 2
	AcctInterim       AcctStatus = 3
	AcctAccountingOn  AcctStatus = 7
	AcctAccountingOff AcctStatus = 8
)

// Accounting is a verified Accounting-Request.
type Accounting struct {
	Status AcctStatus
	// Kind is detected as for Request.
	Kind                                protocol.SessionKind
	AcctSessionID, User, MAC, IP, NASID string
	SessionTime                         time.Duration
	InputOctets, OutputOctets           uint64 // Acct-*-Gigawords folded in
	InputPackets, OutputPackets         uint64
	TerminateCause                      int       // Acct-Terminate-Cause, 0 if absent
	EventTime                           time.Time // Event-Timestamp, else receipt time less Acct-Delay-Time; UTC
}

// Decider answers for the accounts: the agent implements it over its
// synced copy.
type Decider interface {
	// Credentials returns what user's password is checked with; false
	// means an unknown user, answered like a wrong password.
	Credentials(kind protocol.SessionKind, user string) (Secret, bool)
	// Decide is called once the password checked out.
	Decide(ctx context.Context, req Request) Decision
	// Account records rec and returns nil only once it is durable: only
	// then is the Accounting-Response sent. On an error the router is not
	// answered and retransmits.
	Account(ctx context.Context, rec Accounting) error
}

// Config configures a Server.
type Config struct {
	// AuthAddr and AcctAddr are the UDP addresses to listen on, e.g.
	// ":1812" and ":1813"; "" disables that listener.
	AuthAddr, AcctAddr string
	// Secret is the router's shared secret (one router per agent).
	Secret []byte
	// RequireMessageAuthenticator drops Access-Requests without a
	// Message-Authenticator (BlastRADIUS, CVE-2024-3596). A present one is
	// always checked.
	RequireMessageAuthenticator bool
	Decider                     Decider
	// Logger nil means no logs.
	Logger *slog.Logger
	// Registerer nil means no metrics are registered.
	Registerer prometheus.Registerer
}

// Package radius is the agent's RADIUS server and CoA/Disconnect client.
//
// THIS FILE IS A STUB: it declares exactly the API of /work/wt/RADIUS.md so
// that package agent compiles while helper radsrv builds the real package.
// It holds no server logic; the lead drops it when the real package is
// merged.
package radius

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/protocol"
)

// Method is the authentication method of an Access-Request.
type Method string

// Methods.
const (
	MethodPAP      Method = "pap"
	MethodCHAP     Method = "chap"
	MethodMSCHAPv2 Method = "mschapv2"
)

// Secret is what an account's password can be checked with.
type Secret struct {
	Password string
	NTHash   [16]byte
	HasNT    bool
}

// Request is a verified Access-Request.
type Request struct {
	Kind                    protocol.SessionKind
	User, MAC, IP           string
	NASID, NASIP, NASPortID string
	AcctSessionID           string
	Method                  Method
}

// Decision answers an Access-Request.
type Decision struct {
	Accept          bool
	Reason          string
	Profile         string
	RateLimit       string
	SessionTimeout  time.Duration
	TotalLimit      uint64
	InterimInterval time.Duration
	FramedPool      string
}

// AcctStatus is Acct-Status-Type.
type AcctStatus int

// Accounting statuses.
const (
	AcctStart   AcctStatus = 1
	AcctStop    AcctStatus = 2
	AcctInterim AcctStatus = 3
)

// Accounting is one Accounting-Request.
type Accounting struct {
	Status                              AcctStatus
	Kind                                protocol.SessionKind
	AcctSessionID, User, MAC, IP, NASID string
	SessionTime                         time.Duration
	InputOctets, OutputOctets           uint64
	InputPackets, OutputPackets         uint64
	TerminateCause                      int
	EventTime                           time.Time
}

// Decider decides Access-Requests and stores accounting.
type Decider interface {
	Credentials(kind protocol.SessionKind, user string) (Secret, bool)
	Decide(ctx context.Context, req Request) Decision
	Account(ctx context.Context, rec Accounting) error
}

// Config configures a Server.
type Config struct {
	AuthAddr, AcctAddr          string
	Secret                      []byte
	RequireMessageAuthenticator bool
	Decider                     Decider
	Logger                      *slog.Logger
	Registerer                  prometheus.Registerer
}

// Server is the RADIUS server (stub: it never listens).
type Server struct{ cfg Config }

// NewServer returns a server (stub).
func NewServer(cfg Config) (*Server, error) { return &Server{cfg: cfg}, nil }

// Listen binds the sockets (stub: binds nothing).
func (s *Server) Listen(ctx context.Context) error { return nil }

// Serve serves until ctx ends (stub: waits).
func (s *Server) Serve(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// AuthAddr is the auth socket's address (stub: nil).
func (s *Server) AuthAddr() net.Addr { return nil }

// AcctAddr is the accounting socket's address (stub: nil).
func (s *Server) AcctAddr() net.Addr { return nil }

// Target names the session a Disconnect or CoA is for.
type Target struct{ User, AcctSessionID, IP, MAC string }

// ErrNAK is a Disconnect-NAK or CoA-NAK.
var ErrNAK = errors.New("radius: NAK")

// Disconnect sends a Disconnect-Request (stub: always fails).
func Disconnect(ctx context.Context, addr string, secret []byte, t Target) error {
	return errors.New("radius: stub package, no client")
}

// ChangeAuthorization sends a CoA-Request (stub: always fails).
func ChangeAuthorization(ctx context.Context, addr string, secret []byte, t Target, d Decision) error {
	return errors.New("radius: stub package, no client")
}

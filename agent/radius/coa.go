package radius

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/rfc3576"
	_ "layeh.com/radius/rfc5176" // registers the RFC 5176 Error-Cause names
)

// DefaultCoAPort is where RouterOS's /radius incoming listens.
const DefaultCoAPort = "3799"

// Target names the session a Disconnect- or CoA-Request is for. RouterOS
// matches on Acct-Session-Id, else on User-Name (and Framed-IP-Address);
// empty fields are left out, and at least one must be set.
type Target struct {
	User, AcctSessionID, IP, MAC string
}

var (
	// ErrNAK is wrapped by the error of a Disconnect-NAK or CoA-NAK: the
	// router refused (see NAKError for its Error-Cause).
	ErrNAK = errors.New("radius: NAK")
	// ErrTimeout is wrapped by the error when no valid answer came after
	// every retry.
	ErrTimeout = errors.New("radius: no answer")
)

// NAKError is a Disconnect-NAK or CoA-NAK; errors.Is(err, ErrNAK) holds.
type NAKError struct {
	Code  radius.Code // CodeDisconnectNAK or CodeCoANAK
	Cause int         // Error-Cause (RFC 5176 §3.5), 0 if absent; 503 is Session-Context-Not-Found
}

func (e *NAKError) Error() string {
	if e.Cause == 0 {
		return fmt.Sprintf("radius: %v without Error-Cause", e.Code)
	}
	return fmt.Sprintf("radius: %v: %d %v", e.Code, e.Cause, rfc3576.ErrorCause(e.Cause))
}

// Is makes errors.Is(err, ErrNAK) hold.
func (e *NAKError) Is(target error) bool { return target == ErrNAK }

// How the CoA client retries: the same packet (so the router's own
// duplicate detection holds) coaTries times, coaTimeout apart, while ctx
// allows.
var (
	coaTries   = 3
	coaTimeout = time.Second
)

// Disconnect sends a Disconnect-Request for t to addr (host:port, the port
// defaulting to 3799) and returns nil on a Disconnect-ACK, a *NAKError on
// a NAK, an error wrapping ErrTimeout when nothing valid came back.
func Disconnect(ctx context.Context, addr string, secret []byte, t Target) error {
	return exchangeCoA(ctx, radius.CodeDisconnectRequest, addr, secret, t, nil)
}

// ChangeAuthorization sends a CoA-Request for t carrying d's limits
// (Mikrotik-Rate-Limit, Session-Timeout, Acct-Interim-Interval,
// Mikrotik-Total-Limit, Mikrotik-Group, Framed-Pool as set; Accept and
// Reason are not sent) and returns nil on a CoA-ACK, otherwise as
// Disconnect.
func ChangeAuthorization(ctx context.Context, addr string, secret []byte, t Target, d Decision) error {
	return exchangeCoA(ctx, radius.CodeCoARequest, addr, secret, t, &d)
}

// newCoARequest builds the signed wire bytes of a Disconnect- or
// CoA-Request.
func newCoARequest(code radius.Code, secret []byte, t Target, d *Decision, now time.Time) ([]byte, error) {
	if t.User == "" && t.AcctSessionID == "" && t.IP == "" && t.MAC == "" {
		return nil, errors.New("radius: empty Target")
	}
	p := radius.New(code, secret)
	p.Authenticator = [16]byte{} // the Message-Authenticator covers zeros here; Encode computes the real one
	var errs []error
	if t.User != "" {
		errs = append(errs, rfc2865.UserName_SetString(p, t.User))
	}
	if t.AcctSessionID != "" {
		errs = append(errs, rfc2866.AcctSessionID_SetString(p, t.AcctSessionID))
	}
	if t.IP != "" {
		ip, err := netip.ParseAddr(t.IP)
		if err != nil || !ip.Is4() {
			return nil, fmt.Errorf("radius: target IP %q is not an IPv4 address", t.IP)
		}
		errs = append(errs, rfc2865.FramedIPAddress_Set(p, ip.AsSlice()))
	}
	if t.MAC != "" {
		errs = append(errs, rfc2865.CallingStationID_SetString(p, NormalizeMAC(t.MAC)))
	}
	if d != nil {
		errs = append(errs, addDecision(p, *d))
	}
	errs = append(errs, rfc2869.EventTimestamp_Set(p, now))
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("radius: %v: %w", code, err)
	}
	if err := signMessageAuthenticator(p, [16]byte{}); err != nil {
		return nil, err
	}
	return p.Encode()
}

func exchangeCoA(ctx context.Context, code radius.Code, addr string, secret []byte, t Target, d *Decision) error {
	if len(secret) == 0 {
		return errors.New("radius: empty shared secret")
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, DefaultCoAPort)
	}
	req, err := newCoARequest(code, secret, t, d, time.Now())
	if err != nil {
		return err
	}
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "udp", addr)
	if err != nil {
		return fmt.Errorf("radius: %v to %s: %w", code, addr, err)
	}
	defer conn.Close()
	// A done ctx unblocks the read at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	buf := make([]byte, radius.MaxPacketLength)
	for try := 0; try < coaTries; try++ {
		if ctx.Err() != nil {
			return fmt.Errorf("radius: %v to %s: %w", code, addr, ctx.Err())
		}
		if _, err := conn.Write(req); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("radius: %v to %s: %w", code, addr, ctx.Err())
			}
			return fmt.Errorf("radius: %v to %s: %w", code, addr, err)
		}
		deadline := time.Now().Add(coaTimeout)
		if ctx.Err() == nil {
			_ = conn.SetReadDeadline(deadline)
		}
		for {
			n, err := conn.Read(buf)
			if ctx.Err() != nil {
				return fmt.Errorf("radius: %v to %s: %w", code, addr, ctx.Err())
			}
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break // retry
				}
				// A refused port (ICMP) shows as a read error: retry too,
				// the router may be coming up.
				wait := time.NewTimer(time.Until(deadline))
				select {
				case <-ctx.Done():
				case <-wait.C:
				}
				wait.Stop()
				break
			}
			resp, err := parseCoAResponse(req, buf[:n], secret)
			if err != nil {
				continue // forged or stale: keep waiting for the real answer
			}
			switch resp.Code {
			case radius.CodeDisconnectACK, radius.CodeCoAACK:
				return nil
			default:
				cause, _ := rfc3576.ErrorCause_Lookup(resp)
				return &NAKError{Code: resp.Code, Cause: int(cause)}
			}
		}
	}
	return fmt.Errorf("radius: %v to %s: %w after %d tries", code, addr, ErrTimeout, coaTries)
}

// parseCoAResponse checks that resp answers req (the wire bytes of a
// Disconnect- or CoA-Request): its ACK or NAK code, the same Identifier, a
// Response Authenticator over req's authenticator and the secret, and a
// right Message-Authenticator if it carries one.
func parseCoAResponse(req, resp, secret []byte) (*radius.Packet, error) {
	p, err := radius.Parse(resp, secret)
	if err != nil {
		return nil, err
	}
	resp = resp[:binary.BigEndian.Uint16(resp[2:4])]
	if len(req) < 20 {
		return nil, errors.New("radius: short request")
	}
	ack, nak := radius.Code(req[0])+1, radius.Code(req[0])+2
	if p.Code != ack && p.Code != nak {
		return nil, fmt.Errorf("radius: %v does not answer %v", p.Code, radius.Code(req[0]))
	}
	if p.Identifier != req[1] {
		return nil, errors.New("radius: identifier mismatch")
	}
	if !radius.IsAuthenticResponse(resp, req, secret) {
		return nil, errors.New("radius: bad response authenticator")
	}
	// RFC 5176 §3.3 reads as signing the answer over the request's
	// authenticator, FreeRADIUS signs it over zeros (see msgauth.go):
	// either proves the secret.
	if _, err := checkMessageAuthenticator(p, [16]byte(req[4:20])); err != nil {
		if _, err := checkMessageAuthenticator(p, [16]byte{}); err != nil {
			return nil, err
		}
	}
	return p, nil
}

package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Message is one e-mail. From accepts "Name <addr>"; MessageID, if set,
// is the whole header value, like "<id@host>".
type Message struct {
	From      string
	To        string
	Subject   string
	Text      string // the text/plain part
	HTML      string // the text/html alternative; empty for text only
	MessageID string
	Headers   map[string]string // extra headers, like X-SitePulse-Notification
}

// Send delivers m through the server c names, on a connection of its own.
// A message the server accepted is not reported as failed when only the
// closing of the session (RSET, QUIT) went wrong: that is logged instead.
// With a Username, Send authenticates with the best mechanism the server
// offers; without TLS (TLSNone) it refuses to send a password in clear
// text (PLAIN, LOGIN) and fails instead.
func Send(ctx context.Context, c Config, m Message, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	msg, err := build(m)
	if err != nil {
		return err
	}
	// go-mail honours ctx only while dialling; the connection's deadline
	// is moved to now when ctx ends, so a server that stops answering
	// mid-session does not outlast it.
	var conn net.Conn
	var mu sync.Mutex
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		cn, err := dialer(c)(ctx, network, addr)
		if err == nil {
			mu.Lock()
			conn = cn
			mu.Unlock()
		}
		return cn, err
	}
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if conn != nil {
			_ = conn.SetDeadline(time.Now())
		}
	})
	defer stop()
	client, err := gomail.NewClient(c.Host, append(options(c), gomail.WithDialContextFunc(dial))...)
	if err != nil {
		return controlplane.Errorf(controlplane.EINVALID, "smtp config: %s", scrub(err, c))
	}
	err = client.DialAndSendWithContext(ctx, msg)
	if err != nil && ctx.Err() != nil && !msg.IsDelivered() {
		return &sendError{err: errors.Join(ctx.Err(), err), msg: scrub(err, c) + " (" + ctx.Err().Error() + ")"}
	}
	if err != nil && msg.IsDelivered() {
		log.Warn("mail: message accepted, closing the session failed",
			"smtp", c, "message_id", m.MessageID, "err", scrub(err, c))
		return nil
	}
	if err != nil {
		return &sendError{err: err, msg: scrub(err, c)}
	}
	return nil
}

// dialer connects to the server, with TLS from the start for TLSImplicit.
func dialer(c Config) gomail.DialContextFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: timeout(c)}
		cn, err := d.DialContext(ctx, network, addr)
		if err != nil || c.TLS != TLSImplicit {
			return cn, err
		}
		tc := tls.Client(cn, tlsConfig(c))
		hctx, cancel := context.WithTimeout(ctx, timeout(c))
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			_ = cn.Close()
			return nil, err
		}
		return tc, nil
	}
}

func timeout(c Config) time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

func tlsConfig(c Config) *tls.Config {
	return &tls.Config{
		ServerName:         c.Host,
		InsecureSkipVerify: c.InsecureSkipVerify, // opt-in, for self-signed relays
		MinVersion:         tls.VersionTLS12,
	}
}

// options turns c into go-mail client options.
func options(c Config) []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(c.Port),
		gomail.WithTimeout(timeout(c)),
		gomail.WithTLSConfig(tlsConfig(c)),
	}
	switch c.TLS {
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if c.Username != "" {
		auth := gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover)
		if c.TLS == TLSImplicit {
			// Send dials the TLS connection itself (see dialer), so go-mail
			// does not know it is encrypted and its auto-discovery would
			// leave out PLAIN and LOGIN: name its encrypted preference order.
			// The SMTP layer still checks for TLS before PLAIN or LOGIN.
			auth = gomail.WithOpportunisticSMTPAuth(
				gomail.SMTPAuthSCRAMSHA256PLUS, gomail.SMTPAuthSCRAMSHA256,
				gomail.SMTPAuthSCRAMSHA1PLUS, gomail.SMTPAuthSCRAMSHA1,
				gomail.SMTPAuthNTLM, gomail.SMTPAuthCramMD5,
				gomail.SMTPAuthPlain, gomail.SMTPAuthLogin)
		}
		opts = append(opts, auth, gomail.WithUsername(c.Username), gomail.WithPassword(c.Password))
	}
	return opts
}

// build turns m into a go-mail message; a bad address is EINVALID.
func build(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(m.From); err != nil {
		return nil, controlplane.Errorf(controlplane.EINVALID, "mail from: not a valid address")
	}
	if err := msg.To(m.To); err != nil {
		return nil, controlplane.Errorf(controlplane.EINVALID, "mail to: not a valid address")
	}
	msg.Subject(m.Subject)
	if id := strings.TrimSuffix(strings.TrimPrefix(m.MessageID, "<"), ">"); id != "" {
		// go-mail adds the angle brackets itself.
		msg.SetMessageIDWithValue(id)
	}
	for k, v := range m.Headers {
		msg.SetGenHeader(gomail.Header(k), v)
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// sendError keeps go-mail's error for classification and shows a message
// with the password removed.
type sendError struct {
	err error
	msg string
}

func (e *sendError) Error() string { return "smtp send: " + e.msg }
func (e *sendError) Unwrap() error { return e.err }

// scrub is err's text without c's password (a server or library could
// echo it back).
func scrub(err error, c Config) string {
	s := err.Error()
	if c.Password != "" {
		s = strings.ReplaceAll(s, c.Password, "[redacted]")
	}
	return s
}

// Permanent reports whether retrying err cannot help: the server answered
// with a 5xx reply, or the message or its addresses are invalid.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	if controlplane.ErrorCode(err) == controlplane.EINVALID {
		return true
	}
	code := replyCode(err)
	return code >= 500 && code <= 599
}

// MaybeSent reports whether the message may have been delivered although
// Send failed: it was written in full but no reply to the end of DATA came
// back. Retrying such a send may deliver a second copy.
func MaybeSent(err error) bool {
	var se *gomail.SendError
	return errors.As(err, &se) && se.Reason == gomail.ErrSMTPDataClose && replyCode(err) == 0
}

// replyCode is the SMTP reply code in err, 0 if the server did not answer.
// go-mail's SendError does not unwrap, so its own code is asked too.
func replyCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		return se.ErrorCode()
	}
	return 0
}

package mail

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// TLSMode says how the SMTP connection is secured.
type TLSMode string

// The TLS modes.
const (
	TLSNone     TLSMode = "none"     // plain text, no TLS at all
	TLSStartTLS TLSMode = "starttls" // plain connect, then STARTTLS is required
	TLSImplicit TLSMode = "implicit" // TLS from the first byte (SMTPS)
)

// DefaultTimeout bounds each network step of a send when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// Config is where and how to reach an SMTP server.
type Config struct {
	Host     string
	Port     int
	Username string
	Password string // never logged or printed
	TLS      TLSMode
	// Timeout bounds the dial and every SMTP command; 0 means DefaultTimeout.
	Timeout time.Duration
	// InsecureSkipVerify accepts any server certificate (tests, self-signed relays).
	InsecureSkipVerify bool
}

// String describes c without its password.
func (c Config) String() string {
	s := fmt.Sprintf("%s (tls=%s", net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), c.TLS)
	if c.Username != "" {
		s += ", user=" + c.Username
	}
	if c.InsecureSkipVerify {
		s += ", insecure_skip_verify"
	}
	return s + ")"
}

// LogValue logs c without its password.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("host", c.Host),
		slog.Int("port", c.Port),
		slog.String("username", c.Username),
		slog.String("tls", string(c.TLS)),
		slog.Bool("insecure_skip_verify", c.InsecureSkipVerify),
	)
}

// ParseURL parses smtp://user:pass@host:587?tls=starttls|none (default
// STARTTLS on port 587) or smtps://user:pass@host (implicit TLS, default
// port 465). The query may also hold insecure_skip_verify=true. Errors are
// EINVALID and name neither the URL nor the password.
func ParseURL(s string) (Config, error) {
	u, err := url.Parse(s)
	if err != nil {
		// url.Error repeats the whole URL, password included: drop it.
		return Config{}, controlplane.Errorf(controlplane.EINVALID, "smtp url: not a valid URL")
	}
	var c Config
	switch u.Scheme {
	case "smtp":
		c.TLS, c.Port = TLSStartTLS, 587
	case "smtps":
		c.TLS, c.Port = TLSImplicit, 465
	default:
		return Config{}, controlplane.Errorf(controlplane.EINVALID, "smtp url: scheme must be smtp or smtps")
	}
	if u.Opaque != "" {
		return Config{}, controlplane.Errorf(controlplane.EINVALID, "smtp url: must be scheme://host")
	}
	if u.Path != "" && u.Path != "/" {
		return Config{}, controlplane.Errorf(controlplane.EINVALID, "smtp url: must not have a path")
	}
	c.Host = u.Hostname()
	if c.Host == "" {
		return Config{}, controlplane.Errorf(controlplane.EINVALID, "smtp url: host is missing")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Config{}, controlplane.Errorf(controlplane.EINVALID, "smtp url: port must be 1-65535")
		}
		c.Port = n
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
		if c.Username == "" && c.Password != "" {
			return Config{}, controlplane.Errorf(controlplane.EINVALID, "smtp url: password without a user name")
		}
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Config{}, controlplane.Errorf(controlplane.EINVALID, "smtp url: bad query")
	}
	for k, vs := range q {
		if len(vs) != 1 {
			return Config{}, controlplane.Errorf(controlplane.EINVALID, "smtp url: a query parameter is given more than once")
		}
		v := vs[0]
		switch k {
		case "tls":
			switch {
			case u.Scheme == "smtp" && (v == string(TLSStartTLS) || v == string(TLSNone)):
				c.TLS = TLSMode(v)
			case u.Scheme == "smtps" && v == string(TLSImplicit):
			default:
				return Config{}, controlplane.Errorf(controlplane.EINVALID, "smtp url: tls must be starttls or none for smtp:// (smtps:// is always implicit TLS)")
			}
		case "insecure_skip_verify":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Config{}, controlplane.Errorf(controlplane.EINVALID, "smtp url: insecure_skip_verify must be true or false")
			}
			c.InsecureSkipVerify = b
		default:
			// The key is not echoed: it is input that may hold anything.
			return Config{}, controlplane.Errorf(controlplane.EINVALID, "smtp url: unknown query parameter (allowed: tls, insecure_skip_verify)")
		}
	}
	return c, nil
}

package webhooks

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// blockedPrefixes are address ranges a webhook may not reach besides
// those netip classifies (loopback, private, link-local, multicast,
// unspecified).
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),     // "this network"
	netip.MustParsePrefix("100.64.0.0/10"), // CGNAT
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),  // NAT64 (would reach IPv4 space)
	netip.MustParsePrefix("2002::/16"),     // 6to4
}

// Blocked reports whether a webhook may not be sent to ip: loopback,
// private (RFC 1918, ULA), link-local (the 169.254.169.254 metadata
// service), CGNAT, unspecified, multicast and reserved space.
func Blocked(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || !ip.IsGlobalUnicast() {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// checkURL validates an endpoint URL: https (http too with allowPrivate),
// a host, no credentials; without allowPrivate, every address the host
// resolves to must be public.
func checkURL(ctx context.Context, raw string, allowPrivate bool, resolver *net.Resolver) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return controlplane.Errorf(controlplane.EINVALID, "url: an absolute https URL is required")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowPrivate:
	default:
		return controlplane.Errorf(controlplane.EINVALID, "url: only https is allowed")
	}
	if u.User != nil {
		return controlplane.Errorf(controlplane.EINVALID, "url: credentials in the URL are not allowed")
	}
	if len(raw) > 2048 {
		return controlplane.Errorf(controlplane.EINVALID, "url: too long")
	}
	if allowPrivate {
		return nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if Blocked(ip) {
			return controlplane.Errorf(controlplane.EINVALID, "url: %s is not a public address", ip)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := resolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return controlplane.Errorf(controlplane.EINVALID, "url: host %s does not resolve", host)
	}
	for _, a := range addrs {
		if Blocked(a) {
			return controlplane.Errorf(controlplane.EINVALID, "url: %s resolves to %s, not a public address", host, a.Unmap())
		}
	}
	return nil
}

// dialControl refuses, at connect time, an address Blocked refuses, so a
// name that resolved to a public address at registration and to a private
// one now (DNS rebinding) still fails.
func dialControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhooks: dial %s: %w", address, err)
	}
	if Blocked(ap.Addr()) {
		return fmt.Errorf("webhooks: refusing to connect to non-public address %s", ap.Addr().Unmap())
	}
	return nil
}

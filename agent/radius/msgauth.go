package radius

import (
	"crypto/hmac"
	"crypto/md5"
	"errors"

	"layeh.com/radius"
	"layeh.com/radius/rfc2869"
)

// Message-Authenticator (RFC 3579 §3.2, RFC 5176 §3.3) is HMAC-MD5, keyed
// with the shared secret, over the packet with the attribute's value set to
// zeros and the Authenticator field holding: the request's own random
// authenticator in an Access-Request, the request's authenticator in an
// Access-Accept, -Reject or -Challenge, and zeros in every accounting and
// dynamic-authorization packet, requests and replies alike. The last is
// what FreeRADIUS does (its rad_sign), and radclient rejects an
// Accounting-Response signed otherwise; for the answers to our own CoA and
// Disconnect requests both readings are accepted (parseCoAResponse).
// layeh.com/radius has the attribute but not the MAC.

var errBadMessageAuthenticator = errors.New("radius: bad Message-Authenticator")

// hmacAuthenticator is what the Authenticator field holds while a
// request's Message-Authenticator is computed.
func hmacAuthenticator(p *radius.Packet) [16]byte {
	switch p.Code {
	case radius.CodeAccountingRequest, radius.CodeCoARequest, radius.CodeDisconnectRequest:
		return [16]byte{}
	}
	return p.Authenticator
}

// replyHMACAuthenticator is what the Authenticator field holds while the
// Message-Authenticator of a reply with code is computed, reqAuth being
// its request's authenticator.
func replyHMACAuthenticator(code radius.Code, reqAuth [16]byte) [16]byte {
	switch code {
	case radius.CodeAccessAccept, radius.CodeAccessReject, radius.CodeAccessChallenge:
		return reqAuth
	}
	return [16]byte{}
}

// messageAuthenticator computes the MAC of p with auth in the Authenticator
// field and every Message-Authenticator zeroed, leaving p unchanged.
func messageAuthenticator(p *radius.Packet, auth [16]byte) ([]byte, error) {
	attrs := make(radius.Attributes, len(p.Attributes))
	for i, a := range p.Attributes {
		if a.Type == rfc2869.MessageAuthenticator_Type {
			a = &radius.AVP{Type: a.Type, Attribute: make(radius.Attribute, len(a.Attribute))}
		}
		attrs[i] = a
	}
	q := radius.Packet{Code: p.Code, Identifier: p.Identifier, Authenticator: auth, Attributes: attrs}
	b, err := q.MarshalBinary()
	if err != nil {
		return nil, err
	}
	m := hmac.New(md5.New, p.Secret)
	m.Write(b)
	return m.Sum(nil), nil
}

// checkMessageAuthenticator reports whether p carries a
// Message-Authenticator, and an error when it carries a wrong one (or more
// than one). auth is as for messageAuthenticator.
func checkMessageAuthenticator(p *radius.Packet, auth [16]byte) (present bool, err error) {
	var got radius.Attribute
	for _, a := range p.Attributes {
		if a.Type != rfc2869.MessageAuthenticator_Type {
			continue
		}
		if present {
			return true, errBadMessageAuthenticator
		}
		present, got = true, a.Attribute
	}
	if !present {
		return false, nil
	}
	if len(got) != md5.Size {
		return true, errBadMessageAuthenticator
	}
	want, err := messageAuthenticator(p, auth)
	if err != nil {
		return true, err
	}
	if !hmac.Equal(got, want) {
		return true, errBadMessageAuthenticator
	}
	return true, nil
}

// signMessageAuthenticator sets p's Message-Authenticator as its first
// attribute (where BlastRADIUS-hardened peers look for it), computed with
// auth in the Authenticator field. Call it after every other attribute is
// in place and before Encode.
func signMessageAuthenticator(p *radius.Packet, auth [16]byte) error {
	rfc2869.MessageAuthenticator_Del(p)
	avp := &radius.AVP{Type: rfc2869.MessageAuthenticator_Type, Attribute: make(radius.Attribute, md5.Size)}
	p.Attributes = append(radius.Attributes{avp}, p.Attributes...)
	sum, err := messageAuthenticator(p, auth)
	if err != nil {
		return err
	}
	copy(avp.Attribute, sum)
	return nil
}

package radius

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf16"

	"layeh.com/radius"
	"layeh.com/radius/rfc2759"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc3079"
	"layeh.com/radius/vendors/microsoft"
)

// Reply-Messages of a failed password check. Unknown users and wrong
// passwords get the same text, so the login page cannot be used to find
// out which accounts exist.
const (
	msgInvalid   = "invalid username or password"
	msgNeedsText = "chap needs the clear-text password"
)

// NTHash is MD4 of the UTF-16LE password (RFC 2759 §8.3), what PPP entries
// are synced with instead of the clear text.
func NTHash(password string) [16]byte {
	u := utf16.Encode([]rune(password))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	var h [16]byte
	copy(h[:], rfc2759.NTPasswordHash(b))
	return h
}

// ntHash is the account's NT hash, computed from the clear text when only
// that is known.
func (s Secret) ntHash() ([16]byte, bool) {
	if s.HasNT {
		return s.NTHash, true
	}
	if s.Password != "" {
		return NTHash(s.Password), true
	}
	return [16]byte{}, false
}

// method tells how p proves its password; false when it carries none of
// the attributes this server checks (EAP, for one).
func method(p *radius.Packet) (Method, bool) {
	switch {
	case len(microsoft.MSCHAP2Response_Get(p)) > 0:
		return MethodMSCHAPv2, true
	case len(microsoft.MSCHAPResponse_Get(p)) > 0:
		return MethodMSCHAPv1, true
	case len(rfc2865.CHAPPassword_Get(p)) > 0:
		return MethodCHAP, true
	}
	if _, ok := p.Lookup(rfc2865.UserPassword_Type); ok {
		return MethodPAP, true
	}
	return "", false
}

// check is the result of a password check: ok, or a reject with the
// Reply-Message to send (why is for the log, never a secret). accept and
// reject add what the method needs in the reply (MS-CHAP's success or
// error attributes).
type check struct {
	ok     bool
	msg    string
	why    string
	accept func(reply *radius.Packet) error
	reject func(reply *radius.Packet) error
}

func fail(why string) check { return check{msg: msgInvalid, why: why} }

// verify checks p's proof of user's password against sec.
func verify(p *radius.Packet, m Method, user string, sec Secret) check {
	if sec.Password == "" && !sec.HasNT {
		return fail("account has no password")
	}
	switch m {
	case MethodPAP:
		return verifyPAP(p, sec)
	case MethodCHAP:
		return verifyCHAP(p, sec)
	case MethodMSCHAPv1:
		return verifyMSCHAPv1(p, sec)
	case MethodMSCHAPv2:
		return verifyMSCHAPv2(p, user, sec)
	}
	return fail("unsupported method")
}

func verifyPAP(p *radius.Packet, sec Secret) check {
	got, err := rfc2865.UserPassword_Lookup(p)
	if err != nil {
		return fail("undecodable User-Password")
	}
	if sec.Password != "" {
		if subtle.ConstantTimeCompare(got, []byte(sec.Password)) == 1 {
			return check{ok: true}
		}
		return fail("wrong password")
	}
	h := NTHash(string(got))
	if subtle.ConstantTimeCompare(h[:], sec.NTHash[:]) == 1 {
		return check{ok: true}
	}
	return fail("wrong password")
}

// verifyCHAP checks CHAP-Password = ident ‖ MD5(ident ‖ password ‖
// challenge), the challenge being CHAP-Challenge or, without one, the
// request authenticator (RFC 2865 §2.2).
func verifyCHAP(p *radius.Packet, sec Secret) check {
	cp := rfc2865.CHAPPassword_Get(p)
	if len(cp) != 1+md5.Size {
		return fail("CHAP-Password not 17 octets")
	}
	if sec.Password == "" {
		return check{msg: msgNeedsText, why: "chap with only an NT hash"}
	}
	challenge := rfc2865.CHAPChallenge_Get(p)
	if len(challenge) == 0 {
		challenge = p.Authenticator[:]
	}
	h := md5.New()
	h.Write(cp[:1])
	h.Write([]byte(sec.Password))
	h.Write(challenge)
	if subtle.ConstantTimeCompare(h.Sum(nil), cp[1:]) == 1 {
		return check{ok: true}
	}
	return fail("wrong password")
}

// verifyMSCHAPv1 checks MS-CHAP-Response (RFC 2433, RFC 2548 §2.1.3):
// ident, flags (1: use the NT response), LM response, NT response, against
// an 8-octet MS-CHAP-Challenge.
func verifyMSCHAPv1(p *radius.Packet, sec Secret) check {
	challenge := microsoft.MSCHAPChallenge_Get(p)
	resp := microsoft.MSCHAPResponse_Get(p)
	if len(challenge) != 8 || len(resp) != 50 {
		return fail("malformed MS-CHAP attributes")
	}
	if resp[1]&1 == 0 {
		return fail("MS-CHAP LM response only")
	}
	nt, _ := sec.ntHash()
	want := rfc2759.ChallengeResponse(challenge, nt[:])
	if subtle.ConstantTimeCompare(want, resp[26:50]) != 1 {
		c := fail("wrong password")
		c.reject = mschapError(resp[0], nil)
		return c
	}
	return check{ok: true, accept: func(r *radius.Packet) error {
		// RFC 2548 §2.4.1: 8 octets of LM key (none kept: zeros) and the
		// first 16 of the hash of the NT hash.
		keys := make([]byte, 24)
		copy(keys[8:], rfc2759.NTPasswordHash(nt[:]))
		return microsoft.MSCHAPMPPEKeys_Add(r, keys)
	}}
}

// verifyMSCHAPv2 checks MS-CHAP2-Response (RFC 2759, RFC 2548 §2.3.2):
// ident, flags, peer challenge (16), reserved (8), NT response (24),
// against a 16-octet MS-CHAP-Challenge. On success the reply carries
// MS-CHAP2-Success (the authenticator response that proves the server
// knew the password too) and the MPPE keys (RFC 3079).
func verifyMSCHAPv2(p *radius.Packet, user string, sec Secret) check {
	challenge := microsoft.MSCHAPChallenge_Get(p)
	resp := microsoft.MSCHAP2Response_Get(p)
	if len(challenge) != 16 || len(resp) != 50 {
		return fail("malformed MS-CHAPv2 attributes")
	}
	ident, peer, ntResp := resp[0], resp[2:18], resp[26:50]
	// RFC 2759 §8.2 hashes the user name without a DOMAIN\ prefix.
	if i := strings.LastIndexByte(user, '\\'); i >= 0 {
		user = user[i+1:]
	}
	ch := rfc2759.ChallengeHash(peer, challenge, []byte(user))
	nt, _ := sec.ntHash()
	if subtle.ConstantTimeCompare(rfc2759.ChallengeResponse(ch, nt[:]), ntResp) != 1 {
		c := fail("wrong password")
		c.reject = mschapError(ident, challenge)
		return c
	}
	ntResp = bytes.Clone(ntResp)
	return check{ok: true, accept: func(r *radius.Packet) error {
		hh := rfc2759.NTPasswordHash(nt[:])
		success := append([]byte{ident}, authenticatorResponse(hh, ntResp, ch)...)
		if err := microsoft.MSCHAP2Success_Add(r, success); err != nil {
			return err
		}
		master := rfc3079.GetMasterKey(hh, ntResp)
		send, err := rfc3079.GetAsymmetricStartKey(master, rfc3079.KeyLength128Bit, true)
		if err != nil {
			return err
		}
		recv, err := rfc3079.GetAsymmetricStartKey(master, rfc3079.KeyLength128Bit, false)
		if err != nil {
			return err
		}
		if err := microsoft.MSMPPESendKey_Add(r, send); err != nil {
			return err
		}
		if err := microsoft.MSMPPERecvKey_Add(r, recv); err != nil {
			return err
		}
		if err := microsoft.MSMPPEEncryptionPolicy_Add(r, microsoft.MSMPPEEncryptionPolicy_Value_EncryptionAllowed); err != nil {
			return err
		}
		return microsoft.MSMPPEEncryptionTypes_Add(r, microsoft.MSMPPEEncryptionTypes_Value_RC440or128BitAllowed)
	}}
}

// RFC 2759 §8.7 constants. rfc2759.GenerateAuthenticatorResponse needs the
// clear text; PPP accounts are synced as NT hashes only.
var (
	authMagic1 = []byte("Magic server to client signing constant")
	authMagic2 = []byte("Pad to make it do more than one iteration")
)

// authenticatorResponse is "S=" and 40 upper-case hex digits (RFC 2759
// §8.7) from the hash of the NT hash, the NT response and the challenge
// hash.
func authenticatorResponse(hashHash, ntResp, challengeHash []byte) []byte {
	h := sha1.New()
	h.Write(hashHash)
	h.Write(ntResp)
	h.Write(authMagic1)
	digest := h.Sum(nil)
	h = sha1.New()
	h.Write(digest)
	h.Write(challengeHash)
	h.Write(authMagic2)
	return []byte("S=" + strings.ToUpper(hex.EncodeToString(h.Sum(nil))))
}

// mschapError is MS-CHAP-Error (RFC 2548 §2.1.5): E=691 (authentication
// failure), no retry; MS-CHAPv2 adds a new challenge and the version
// (RFC 2759 §6).
func mschapError(ident byte, challenge []byte) func(*radius.Packet) error {
	return func(r *radius.Packet) error {
		text := "E=691 R=0"
		if challenge != nil {
			var c [16]byte
			if _, err := rand.Read(c[:]); err != nil {
				return err
			}
			text += fmt.Sprintf(" C=%X V=3 M=Authentication failure", c[:])
		}
		return microsoft.MSCHAPError_Add(r, append([]byte{ident}, text...))
	}
}

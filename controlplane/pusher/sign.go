package pusher

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SignChannel returns the auth string a client presents to subscribe to a
// private or presence channel: "key:" + hex(HMAC-SHA256(secret,
// "socketID:channel")), with ":channelData" appended to the message for
// presence channels (channelData exactly as the client will send it).
func SignChannel(key, secret, socketID, channel, channelData string) string {
	return key + ":" + hex.EncodeToString(channelMAC(secret, socketID, channel, channelData))
}

func channelMAC(secret, socketID, channel, channelData string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(socketID))
	m.Write([]byte{':'})
	m.Write([]byte(channel))
	if channelData != "" {
		m.Write([]byte{':'})
		m.Write([]byte(channelData))
	}
	return m.Sum(nil)
}

// VerifyChannelAuth reports whether auth is the auth string for this socket,
// channel and channel data under key and secret. The signature is compared
// in constant time.
func VerifyChannelAuth(key, secret, socketID, channel, channelData, auth string) bool {
	gotKey, gotSig, ok := strings.Cut(auth, ":")
	if !ok || subtle.ConstantTimeCompare([]byte(gotKey), []byte(key)) != 1 {
		return false
	}
	sig, err := hex.DecodeString(gotSig)
	if err != nil {
		return false
	}
	return hmac.Equal(sig, channelMAC(secret, socketID, channel, channelData))
}

// EncryptedChannelSecret returns the per-channel shared secret of a
// private-encrypted- channel, base64 encoded as the auth endpoint returns it:
// SHA-256 of the channel name followed by the 32-byte master key (the
// derivation of the Pusher server SDKs).
func EncryptedChannelSecret(channel string, masterKey []byte) string {
	h := sha256.New()
	h.Write([]byte(channel))
	h.Write(masterKey)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// Query parameters of a signed HTTP API request.
const (
	paramAuthKey       = "auth_key"
	paramAuthTimestamp = "auth_timestamp"
	paramAuthVersion   = "auth_version"
	paramAuthSignature = "auth_signature"
	paramBodyMD5       = "body_md5"
)

// DefaultMaxTimestampSkew is how far auth_timestamp may be from the server's
// clock, as on Pusher's API.
const DefaultMaxTimestampSkew = 600 * time.Second

// ErrBadSignature is wrapped by every RequestVerifier error, so callers map
// all of them to 401.
var ErrBadSignature = errors.New("request signature invalid")

// BodyMD5 returns the hex MD5 of an HTTP API request body (the body_md5
// query parameter).
func BodyMD5(body []byte) string {
	sum := md5.Sum(body)
	return hex.EncodeToString(sum[:])
}

// SignedQuery returns the query of an HTTP API request signed as the Pusher
// server SDKs sign it: params, auth_key, auth_timestamp (at),
// auth_version, body_md5 for a non-empty body, and auth_signature.
func SignedQuery(key, secret, method, path string, params url.Values, body []byte, at time.Time) (url.Values, error) {
	q := url.Values{}
	for k, v := range params {
		q[k] = v
	}
	q.Set("auth_key", key)
	q.Set("auth_timestamp", strconv.FormatInt(at.Unix(), 10))
	q.Set("auth_version", "1.0")
	if len(body) > 0 {
		q.Set("body_md5", BodyMD5(body))
	}
	sig, err := SignRequest(secret, method, path, q)
	if err != nil {
		return nil, err
	}
	q.Set("auth_signature", sig)
	return q, nil
}

// canonicalQuery returns the query part of the string to sign: every
// parameter except auth_signature, keys lowercased and sorted, "k=v" joined
// by "&", values unescaped. A key given twice (in any case) is ambiguous and
// rejected.
func canonicalQuery(params url.Values) (string, error) {
	keys := make([]string, 0, len(params))
	seen := make(map[string]bool, len(params))
	lower := make(map[string]string, len(params))
	for k, vs := range params {
		lk := strings.ToLower(k)
		if lk == paramAuthSignature {
			continue
		}
		if seen[lk] || len(vs) != 1 {
			return "", fmt.Errorf("%w: query parameter %q given more than once", ErrBadSignature, lk)
		}
		seen[lk] = true
		lower[lk] = vs[0]
		keys = append(keys, lk)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(lower[k])
	}
	return b.String(), nil
}

// SignRequest returns the auth_signature of an HTTP API request:
// hex(HMAC-SHA256(secret, METHOD "\n" path "\n" canonical query)). params
// must already hold auth_key, auth_timestamp, auth_version and, for a
// request with a body, body_md5.
func SignRequest(secret, method, path string, params url.Values) (string, error) {
	q, err := canonicalQuery(params)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(requestMAC(secret, method, path, q)), nil
}

func requestMAC(secret, method, path, query string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strings.ToUpper(method)))
	m.Write([]byte{'\n'})
	m.Write([]byte(path))
	m.Write([]byte{'\n'})
	m.Write([]byte(query))
	return m.Sum(nil)
}

// RequestVerifier checks the signed query of Pusher HTTP API requests.
type RequestVerifier struct {
	// Key and Secret are the app's credentials.
	Key, Secret string
	// MaxSkew bounds |now - auth_timestamp|; zero means
	// DefaultMaxTimestampSkew.
	MaxSkew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verify checks a request given its method, path (as signed: the path part of
// the URL), raw query string and body. Every failure wraps ErrBadSignature
// and says which check failed; it never panics on hostile input.
func (v RequestVerifier) Verify(method, path, rawQuery string, body []byte) error {
	params, err := url.ParseQuery(rawQuery)
	if err != nil {
		return fmt.Errorf("%w: malformed query: %v", ErrBadSignature, err)
	}
	get := func(k string) string {
		if vs := params[k]; len(vs) == 1 {
			return vs[0]
		}
		return ""
	}
	if key := get(paramAuthKey); key == "" || subtle.ConstantTimeCompare([]byte(key), []byte(v.Key)) != 1 {
		return fmt.Errorf("%w: unknown auth_key", ErrBadSignature)
	}
	if get(paramAuthVersion) != "1.0" {
		return fmt.Errorf("%w: auth_version must be 1.0", ErrBadSignature)
	}
	ts, err := strconv.ParseInt(get(paramAuthTimestamp), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: auth_timestamp missing or not an integer", ErrBadSignature)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxTimestampSkew
	}
	// Compare in seconds, guarding against overflow from absurd timestamps.
	diff := now().Unix() - ts
	if diff > int64(skew/time.Second) || diff < -int64(skew/time.Second) {
		return fmt.Errorf("%w: auth_timestamp more than %s from server time", ErrBadSignature, skew)
	}
	md5Param, hasMD5 := params[paramBodyMD5]
	switch {
	case len(body) > 0 && !hasMD5:
		return fmt.Errorf("%w: body_md5 missing", ErrBadSignature)
	case hasMD5 && (len(md5Param) != 1 || subtle.ConstantTimeCompare([]byte(md5Param[0]), []byte(BodyMD5(body))) != 1):
		return fmt.Errorf("%w: body_md5 does not match the body", ErrBadSignature)
	}
	sig, err := hex.DecodeString(get(paramAuthSignature))
	if err != nil || len(sig) != sha256.Size {
		return fmt.Errorf("%w: auth_signature missing or not hex", ErrBadSignature)
	}
	q, err := canonicalQuery(params)
	if err != nil {
		return err
	}
	if !hmac.Equal(sig, requestMAC(v.Secret, method, path, q)) {
		return fmt.Errorf("%w: auth_signature does not match", ErrBadSignature)
	}
	return nil
}

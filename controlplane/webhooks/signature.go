package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Headers of a delivery.
const (
	HeaderSignature = "X-SitePulse-Signature"
	HeaderEvent     = "X-SitePulse-Event"
	HeaderDelivery  = "X-SitePulse-Delivery"
)

// Sign returns the X-SitePulse-Signature value of body sent at t:
// "t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>".
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// ParseSignature splits a signature header into its timestamp and its v1
// signatures (several while a receiver accepts an old and a new secret).
// Unknown keys are ignored.
func ParseSignature(header string) (ts int64, v1 [][]byte, err error) {
	var haveT bool
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return 0, nil, errors.New("webhooks: malformed signature element")
		}
		switch k {
		case "t":
			if haveT {
				return 0, nil, errors.New("webhooks: two timestamps")
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return 0, nil, errors.New("webhooks: bad timestamp")
			}
			ts, haveT = n, true
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return 0, nil, errors.New("webhooks: bad v1 signature")
			}
			v1 = append(v1, b)
		}
	}
	if !haveT || len(v1) == 0 {
		return 0, nil, errors.New("webhooks: signature needs t and v1")
	}
	return ts, v1, nil
}

// Verify checks a delivery as a receiver would: header is its
// X-SitePulse-Signature, body the raw request body, and the timestamp must
// be within tolerance of now (zero tolerance skips that check).
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, sigs, err := ParseSignature(header)
	if err != nil {
		return err
	}
	if tolerance > 0 {
		if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
			return errors.New("webhooks: timestamp outside tolerance")
		}
	}
	want := mac(secret, strconv.FormatInt(ts, 10), body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return errors.New("webhooks: signature mismatch")
}

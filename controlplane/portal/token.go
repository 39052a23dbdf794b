package portal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Tokens signs and checks portal tokens: the proof that a browser started
// a purchase, bound to tenant, payment and an expiry. Holding one lets it
// read that purchase's status and credentials and join its channel, and
// nothing else.
type Tokens struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// NewTokens returns tokens signed with key, valid for ttl (0 means 30
// minutes); now nil means time.Now.
func NewTokens(key []byte, ttl time.Duration, now func() time.Time) *Tokens {
	if ttl <= 0 {
		ttl = 30 * time.Minute
	}
	if now == nil {
		now = time.Now
	}
	return &Tokens{key: key, ttl: ttl, now: now}
}

func (t *Tokens) mac(body string) string {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte("sitepulse portal token\x00" + body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// Sign returns a token for tenant's payment.
func (t *Tokens) Sign(tenant, payment int64) string {
	body := strconv.FormatInt(tenant, 10) + "." + strconv.FormatInt(payment, 10) + "." +
		strconv.FormatInt(t.now().Add(t.ttl).Unix(), 10)
	return body + "." + t.mac(body)
}

// Verify returns the tenant and payment token was signed for.
// EUNAUTHORIZED for a malformed, forged or expired token.
func (t *Tokens) Verify(token string) (tenant, payment int64, err error) {
	bad := controlplane.Errorf(controlplane.EUNAUTHORIZED, "invalid or expired portal token")
	if len(token) > 200 {
		return 0, 0, bad
	}
	parts := strings.Split(token, ".")
	if len(parts) != 4 {
		return 0, 0, bad
	}
	body := parts[0] + "." + parts[1] + "." + parts[2]
	if !hmac.Equal([]byte(parts[3]), []byte(t.mac(body))) {
		return 0, 0, bad
	}
	tenant, e1 := strconv.ParseInt(parts[0], 10, 64)
	payment, e2 := strconv.ParseInt(parts[1], 10, 64)
	exp, e3 := strconv.ParseInt(parts[2], 10, 64)
	if e1 != nil || e2 != nil || e3 != nil || tenant <= 0 || payment <= 0 {
		return 0, 0, bad
	}
	if !t.now().Before(time.Unix(exp, 0)) {
		return 0, 0, bad
	}
	return tenant, payment, nil
}

// VerifyPurchaseToken implements fanout.PurchaseTokens.
func (t *Tokens) VerifyPurchaseToken(token string) (tenant, payment int64, err error) {
	return t.Verify(token)
}

package broker

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sitepulse/sitepulse/controlplane"
)

// TEMPORARY: an in-memory credential store used until controlplane/store
// lands; it will be replaced by the real store on SQLite and PostgreSQL.
type credentials struct {
	mu      sync.Mutex
	secrets map[string]string // "" = revoked
	calls   atomic.Int64
	fail    atomic.Bool
}

func newCredentials(t testing.TB) *credentials {
	t.Helper()
	return &credentials{secrets: make(map[string]string)}
}

func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "sps_" + base64.RawURLEncoding.EncodeToString(b)
}

func (c *credentials) create(t testing.TB) (id, secret string) {
	id, secret = testRouterID(), newSecret()
	c.mu.Lock()
	c.secrets[id] = secret
	c.mu.Unlock()
	return id, secret
}

func (c *credentials) rotate(t testing.TB, id string) string {
	s := newSecret()
	c.mu.Lock()
	c.secrets[id] = s
	c.mu.Unlock()
	return s
}

func (c *credentials) revoke(t testing.TB, id string) {
	c.mu.Lock()
	c.secrets[id] = ""
	c.mu.Unlock()
}

func (c *credentials) VerifyRouterSecret(ctx context.Context, id, secret string) (controlplane.Router, error) {
	c.calls.Add(1)
	if c.fail.Load() {
		return controlplane.Router{}, context.DeadlineExceeded
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.secrets[id]
	if !ok || s == "" || s != secret {
		return controlplane.Router{}, controlplane.Errorf(controlplane.EUNAUTHORIZED, "bad credentials")
	}
	return controlplane.Router{ID: id, Status: controlplane.RouterOnline}, nil
}

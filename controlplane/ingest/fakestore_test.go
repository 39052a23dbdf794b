package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// TEMPORARY: a minimal in-memory store with the real store's method names,
// used only until controlplane/store lands; then the tests run on SQLite
// and PostgreSQL instead.
type fakeStore struct {
	mu       sync.Mutex
	routers  map[string]*fakeRouter
	sessions map[string]map[string]controlplane.Session
}

type fakeRouter struct {
	r        controlplane.Router
	statusTS time.Time
}

func newFakeStore() *fakeStore {
	return &fakeStore{routers: map[string]*fakeRouter{}, sessions: map[string]map[string]controlplane.Session{}}
}

func (f *fakeStore) CreateTenant(ctx context.Context, name string) (controlplane.Tenant, error) {
	return controlplane.Tenant{ID: 1, Name: name}, nil
}

func (f *fakeStore) CreateRouter(ctx context.Context, tenantID int64, name, site string) (controlplane.Router, string, error) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	r := controlplane.Router{ID: "r" + hex.EncodeToString(b), TenantID: tenantID, Name: name, Status: controlplane.RouterPending}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routers[r.ID] = &fakeRouter{r: r}
	return r, "secret", nil
}

func (f *fakeStore) GetRouter(ctx context.Context, scope int64, id string) (controlplane.Router, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.routers[id]
	if !ok {
		return controlplane.Router{}, controlplane.Errorf(controlplane.ENOTFOUND, "router")
	}
	return r.r, nil
}

func (f *fakeStore) RevokeRouter(ctx context.Context, scope int64, id string) (controlplane.Router, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routers[id].r.Status = controlplane.RouterRevoked
	return f.routers[id].r, nil
}

func (f *fakeStore) router(id string) (*fakeRouter, error) {
	r, ok := f.routers[id]
	switch {
	case !ok:
		return nil, controlplane.Errorf(controlplane.ENOTFOUND, "router %s", id)
	case r.r.Status == controlplane.RouterRevoked:
		return nil, controlplane.Errorf(controlplane.EUNAUTHORIZED, "router %s revoked", id)
	}
	return r, nil
}

func (f *fakeStore) ApplyBatch(ctx context.Context, b *protocol.EventBatch) (Applied, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.router(b.Router)
	if err != nil {
		return Applied{}, err
	}
	a := Applied{TenantID: r.r.TenantID}
	ss := f.sessions[b.Router]
	if ss == nil {
		ss = map[string]controlplane.Session{}
		f.sessions[b.Router] = ss
	}
	for _, e := range b.Events {
		if e.Seq <= r.r.LastSeq {
			a.Skipped++
			continue
		}
		a.Applied++
		r.r.LastSeq = e.Seq
		if e.Session == nil {
			continue
		}
		s := controlplane.Session{TenantID: r.r.TenantID, RouterID: b.Router, Kind: e.Session.Kind, Key: e.Session.Key,
			User: e.Session.User, StartedAt: e.Session.StartedAt, BytesIn: e.Session.BytesIn, BytesOut: e.Session.BytesOut}
		switch e.Type {
		case protocol.EventSessionStarted:
			ss[s.Key] = s
			a.Changes = append(a.Changes, controlplane.SessionStarted{Session: s})
		case protocol.EventSessionUpdated:
			ss[s.Key] = s
			a.Changes = append(a.Changes, controlplane.SessionUpdated{Session: s})
		case protocol.EventSessionEnded:
			delete(ss, s.Key)
			a.Changes = append(a.Changes, controlplane.SessionEnded{Record: controlplane.SessionRecord{Session: s, EndedAt: e.TS, EndReason: e.Reason}})
		}
	}
	a.LastSeq = r.r.LastSeq
	return a, nil
}

func (f *fakeStore) SetRouterStatus(ctx context.Context, st *protocol.Status) (controlplane.Router, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.router(st.Router)
	if err != nil {
		return controlplane.Router{}, false, err
	}
	if st.TS.Before(r.statusTS) {
		return r.r, false, nil
	}
	r.statusTS = st.TS
	old := r.r.Status
	r.r.Status = string(st.State)
	r.r.AgentVersion = st.AgentVersion
	return r.r, old != r.r.Status, nil
}

func (f *fakeStore) listSessions(routerID string) []controlplane.Session {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []controlplane.Session
	for _, s := range f.sessions[routerID] {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// forEachStore runs fn against every store implementation.
func forEachStore(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Run("fake", func(t *testing.T) {
		f := newFakeStore()
		fn(t, newEnv(t, f, f.listSessions))
	})
}

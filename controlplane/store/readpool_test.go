package store

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/internal/testkit"
)

func init() {
	addCases(storeCase{"read-pool/reads-during-a-write", testReadsDuringWrite})
}

// GET-style reads complete while a write transaction holds the writer (on
// SQLite its only connection): they see what was committed, not the open
// transaction's writes, and see those once it commits.
func testReadsDuringWrite(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten := newTenant(t, s, "A")
	r := newRouter(t, s, ten.ID, "gw")
	actions := func() []string {
		es, err := s.ListAudit(ctx, 0, 1000, 0)
		if err != nil {
			t.Errorf("ListAudit: %v", err)
		}
		var as []string
		for _, e := range es {
			as = append(as, e.Action)
		}
		return as
	}

	held, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	defer unblock()
	wrote := make(chan error, 1)
	go func() {
		wrote <- s.Write(ctx, func(tx *Tx) error {
			if err := tx.Audit(ctx, controlplane.AuditEntry{TenantID: ten.ID, Actor: "test", Action: "held.write", Result: "ok"}); err != nil {
				return err
			}
			close(held)
			<-release // a long write: the writer stays held
			return nil
		})
	}()
	select {
	case <-held:
	case err := <-wrote:
		t.Fatalf("write ended before holding: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("write transaction never started")
	}

	var done atomic.Bool
	var got controlplane.Router
	var routers []controlplane.Router
	var during []string
	var readErr error
	go func() {
		defer done.Store(true)
		if got, readErr = s.GetRouter(ctx, ten.ID, r.ID); readErr != nil {
			return
		}
		if routers, readErr = s.ListRouters(ctx, ten.ID); readErr != nil {
			return
		}
		if _, _, readErr = s.ListSessions(ctx, ten.ID, controlplane.SessionFilter{}); readErr != nil {
			return
		}
		during = actions()
	}()
	testkit.Eventually(t, 10*time.Second, "reads to finish while the write transaction is open", done.Load)
	select {
	case err := <-wrote:
		t.Fatalf("the write ended (%v) before the reads were checked", err)
	default:
	}
	if readErr != nil {
		t.Fatalf("read during the write: %v", readErr)
	}
	if got.ID != r.ID || len(routers) != 1 {
		t.Errorf("read during the write: router %q, %d routers; want %q and 1", got.ID, len(routers), r.ID)
	}
	if slices.Contains(during, "held.write") {
		t.Error("a read saw the open transaction's uncommitted audit entry")
	}

	unblock()
	if err := <-wrote; err != nil {
		t.Fatalf("write: %v", err)
	}
	// Committed: the next read sees it.
	if !slices.Contains(actions(), "held.write") {
		t.Error("a read after the commit does not see it")
	}
	if e.dialect == DialectSQLite {
		if _, err := s.ReadDB().ExecContext(ctx, `DELETE FROM audit_log`); err == nil {
			t.Error("a write through the SQLite read pool succeeded, want it refused (query_only)")
		}
	}
}

package harness

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/sitepulse/sitepulse/client"
	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// Pusher app credentials every harness server uses, so clients can sign
// private channels without an HTTP round trip per subscription.
const (
	PusherAppID  = "sitepulse"
	PusherKey    = "bench-key"
	PusherSecret = "bench-secret-not-for-production"
)

// Server is `sitepulse serve` as a child process on fixed loopback
// addresses, so a restart comes back where agents and clients expect it.
type Server struct {
	Bin      string
	DataDir  string // SQLite when DBURL is empty
	DBURL    string
	HTTPAddr string
	MQTTAddr string
	LogPath  string
	// Args are extra serve flags (e.g. --mpesa-base-url), appended last.
	Args []string
	Proc *Proc
}

// NewServer picks free addresses for a server in dir.
func NewServer(bin, dir, dbURL string) (*Server, error) {
	h, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	m, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	return &Server{Bin: bin, DataDir: filepath.Join(dir, "data"), DBURL: dbURL, HTTPAddr: h, MQTTAddr: m,
		LogPath: filepath.Join(dir, "sitepulse.log")}, nil
}

// Start runs the server and waits until /readyz answers 200.
func (s *Server) Start(ctx context.Context) error {
	args := []string{"--log-level", "warn", "serve", "--http-addr", s.HTTPAddr, "--mqtt-addr", s.MQTTAddr,
		"--data-dir", s.DataDir, "--pusher-app-id", PusherAppID, "--pusher-key", PusherKey, "--shutdown-timeout", "5s"}
	if s.DBURL != "" {
		args = append(args, "--database-url", s.DBURL)
	}
	args = append(args, s.Args...)
	p, err := StartProc("sitepulse", s.Bin, args, []string{"SITEPULSE_PUSHER_SECRET=" + PusherSecret}, s.LogPath)
	if err != nil {
		return err
	}
	s.Proc = p
	return WaitFor(ctx, 60*time.Second, "sitepulse /readyz", func() bool {
		select {
		case <-p.Done():
			return true
		default:
		}
		res, err := http.Get("http://" + s.HTTPAddr + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
}

// Stop stops the server gracefully (SIGTERM).
func (s *Server) Stop() error {
	if s.Proc == nil {
		return nil
	}
	err := s.Proc.Stop(20 * time.Second)
	s.Proc = nil
	return err
}

// Kill stops the server with SIGKILL.
func (s *Server) Kill() {
	if s.Proc != nil {
		s.Proc.Kill()
		s.Proc = nil
	}
}

// Cred is one enrolled router's MQTT credential.
type Cred struct {
	ID, Secret string
}

// Fixture is what Setup wrote: one active tenant, its routers and a
// system admin's API token.
type Fixture struct {
	TenantID int64
	Routers  []Cred
	Token    string
}

// Setup writes a tenant, n routers and an admin token through the store,
// before the server starts (SQLite has one writer).
func Setup(ctx context.Context, dataDir, dbURL string, n int) (Fixture, error) {
	var fx Fixture
	st, err := store.Open(ctx, store.Options{DataDir: dataDir, DatabaseURL: dbURL, PasswordIterations: 1000})
	if err != nil {
		return fx, fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	t, err := st.CreateTenant(ctx, "Bench ISP")
	if err != nil {
		return fx, fmt.Errorf("create tenant: %w", err)
	}
	if _, err := st.ActivateTenant(ctx, t.ID); err != nil {
		return fx, fmt.Errorf("activate tenant: %w", err)
	}
	fx.TenantID = t.ID
	for i := range n {
		r, secret, err := st.CreateRouter(ctx, t.ID, fmt.Sprintf("router %d", i), "bench")
		if err != nil {
			return fx, fmt.Errorf("create router %d: %w", i, err)
		}
		fx.Routers = append(fx.Routers, Cred{ID: r.ID, Secret: secret})
	}
	u, err := st.CreateUser(ctx, controlplane.User{Email: "bench@isp.test", Name: "Bench", Role: controlplane.RoleSystemAdmin}, "a long bench password")
	if err != nil {
		return fx, fmt.Errorf("create user: %w", err)
	}
	fx.Token, _, err = st.CreateToken(ctx, u.ID, "bench", 24*time.Hour)
	if err != nil {
		return fx, fmt.Errorf("create token: %w", err)
	}
	return fx, nil
}

// API is a REST client (package client) of the server with token.
func (s *Server) API(token string) *client.Client {
	return client.New("http://"+s.HTTPAddr, client.Options{Token: token})
}

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/api"
	"github.com/sitepulse/sitepulse/controlplane/cluster"
)

// ExternalMQTT selects scale-out mode: the replica uses an external broker
// instead of the embedded one (see controlplane/cluster).
type ExternalMQTT struct {
	// URL is the broker, tcp://user:pass@host:1883 or ssl://…; "" means
	// the embedded broker.
	URL string
	// CAFile is a PEM bundle that verifies the broker's certificate for
	// ssl:// URLs; "" means the system roots.
	CAFile string
	// ClientID must be unique per replica and stable across its restarts;
	// "" means "sitepulse-" + the host name.
	ClientID string
	// ShareGroup is the shared-subscription group; "" means "sitepulse".
	ShareGroup string
}

// startCluster connects to the external broker. The embedded broker, its
// listeners and its agent authentication are not started: the external
// broker authenticates agents and enforces their ACL.
func (m *Main) startCluster(ctx context.Context) error {
	x := m.Config.External
	var tc *tls.Config
	if x.CAFile != "" {
		pem, err := os.ReadFile(x.CAFile)
		if err != nil {
			return fmt.Errorf("mqtt ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("mqtt ca: no certificate in %s", x.CAFile)
		}
		tc = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if m.Config.MQTTTLSAddr != "" {
		return errors.New("--mqtt-url and --mqtt-tls-addr exclude each other: the embedded broker does not run with an external one")
	}
	var h cluster.Handler
	if m.ingest != nil {
		h = m.ingest
	}
	var err error
	m.cluster, err = cluster.New(cluster.Options{
		URL:        x.URL,
		TLSConfig:  tc,
		ClientID:   x.ClientID,
		ShareGroup: x.ShareGroup,
		// A jobs node has no ingest: it publishes and relays only.
		PublishOnly: m.Config.Roles.jobsOnly(),
		Handler:     h,
		Logger:      m.log,
		Registerer:  m.registry,
	})
	if err != nil {
		return err
	}
	return m.cluster.Start(ctx)
}

// invalidator is told about rotated and revoked router secrets: the
// embedded broker drops their sessions; an external broker's sessions
// cannot be dropped from here.
func (m *Main) invalidator() api.RouterInvalidator {
	if m.broker == nil {
		return nil
	}
	return m.broker
}

// predecessorWait bounds how long a replica waits for another replica to
// apply the batch a batch follows (ingest.Options.PredecessorWait).
const predecessorWait = 10 * time.Second

// fanInput is what the realtime fan-out reads: the bus alone with the
// embedded broker; in scale-out mode the bus merged with the changes other
// replicas committed (cluster.Fanin also relays this replica's to them).
func (m *Main) fanInput(ctx context.Context, routers []controlplane.Router) <-chan controlplane.Change {
	if m.cluster == nil {
		return m.fanSub.C
	}
	return m.cluster.Fanin(ctx, m.fanSub.C, routers)
}

// mqttReady reports whether agents can reach this replica's ingest.
func (m *Main) mqttReady() bool {
	if m.cluster != nil {
		return m.cluster.Ready()
	}
	return m.broker != nil && (m.broker.Addr() != nil || m.broker.TLSAddr() != nil)
}

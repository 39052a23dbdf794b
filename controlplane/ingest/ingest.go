package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// Store is what ingest needs of the store. *store.Store implements it.
type Store interface {
	// ApplyBatch applies the events of b with seq above the router's
	// last_seq in one transaction. It returns ENOTFOUND for an unknown
	// router and EUNAUTHORIZED for a revoked one.
	ApplyBatch(ctx context.Context, b *protocol.EventBatch) (controlplane.Applied, error)
	// SetRouterStatus records st unless the stored status is newer, and
	// reports whether the router's status changed. Same errors as
	// ApplyBatch.
	SetRouterStatus(ctx context.Context, st *protocol.Status) (controlplane.Router, bool, error)
}

// CommandResults applies command results; the provisioning code implements
// it.
type CommandResults interface {
	// ApplyCommandResult records r. It returns ENOTFOUND for an unknown
	// command and EINVALID for a result that does not fit the command's
	// state; other errors are retried.
	ApplyCommandResult(ctx context.Context, r *protocol.CommandResult) error
}

// Radius handles what agents report of their RADIUS copies; the RADIUS
// sync (*radiussync.Service) implements it.
type Radius interface {
	// HandleRadiusState records the version an agent holds (and sends it
	// what it misses). ENOTFOUND for an unknown router, EUNAUTHORIZED for
	// a revoked one; other errors are retried.
	HandleRadiusState(ctx context.Context, st *protocol.RadiusState) error
	// HandleRadiusAsk decides a voucher's first use and answers it. Errors
	// as HandleRadiusState.
	HandleRadiusAsk(ctx context.Context, a *protocol.RadiusAsk) error
}

// Options configure an Ingest.
type Options struct {
	// Store applies batches and statuses. Required.
	Store Store
	// Bus receives the changes of every committed batch and status; nil
	// means changes are not announced. Its MaxWait bounds the delay slow
	// subscribers add before a PUBACK.
	Bus *controlplane.Bus
	// CommandResults receives command results; nil means they are
	// acknowledged and ignored.
	CommandResults CommandResults
	// Radius receives RADIUS sync states and asks; nil means they are
	// acknowledged and ignored.
	Radius Radius
	// PredecessorWait is how long a batch that arrived before the batch it
	// follows (protocol.EventBatch.Prev) waits for it to be applied before
	// it is applied anyway. Zero means batches arrive in order (the
	// embedded broker applies each connection's messages in turn), so Prev
	// is not checked. Replicas sharing a subscription on an external
	// broker set it: there a router's consecutive batches go to different
	// replicas.
	PredecessorWait time.Duration
	// Logger receives rejections and failures; nil discards them.
	Logger *slog.Logger
	// Registerer receives the metrics; nil means unregistered.
	Registerer prometheus.Registerer
}

// Ingest applies agent messages. It is safe for concurrent use; the broker
// calls it from one goroutine per connection, so the messages of one
// router arrive in order.
type Ingest struct {
	st      Store
	bus     *controlplane.Bus
	results CommandResults
	radius  Radius
	wait    time.Duration
	log     *slog.Logger
	m       *metrics
}

// New returns an Ingest.
func New(o Options) (*Ingest, error) {
	if o.Store == nil {
		return nil, errors.New("ingest: Options.Store is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(o.Registerer, o.Bus)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	return &Ingest{st: o.Store, bus: o.Bus, results: o.CommandResults, radius: o.Radius, wait: o.PredecessorWait, log: o.Logger.With("component", "ingest"), m: m}, nil
}

// HandleMessage applies a message published on topic. See the package
// comment for what its error means.
func (in *Ingest) HandleMessage(ctx context.Context, topic string, payload []byte) error {
	t, err := protocol.ParseTopic(topic)
	if err != nil {
		return in.reject(ReasonTopic, "", topic, len(payload), err)
	}
	switch t.Kind {
	case protocol.TopicEvents:
		return in.events(ctx, t, payload)
	case protocol.TopicStatus:
		return in.status(ctx, t, payload)
	case protocol.TopicCmdResult:
		return in.cmdResult(ctx, t, payload)
	case protocol.TopicRadiusState:
		return in.radiusState(ctx, t, payload)
	case protocol.TopicRadiusAsk:
		return in.radiusAsk(ctx, t, payload)
	default:
		return in.reject(ReasonTopic, t.Router, topic, len(payload), fmt.Errorf("agents do not publish %s", t.Kind))
	}
}

func (in *Ingest) events(ctx context.Context, t protocol.Topic, payload []byte) error {
	b, err := protocol.DecodeEventBatch(payload)
	if err != nil {
		return in.reject(protocol.Reason(err), t.Router, t.String(), len(payload), err)
	}
	if b.Router != t.Router {
		return in.reject(ReasonRouterMismatch, t.Router, t.String(), len(payload), fmt.Errorf("batch of router %q", b.Router))
	}
	start := time.Now()
	applied, err := in.apply(ctx, b)
	in.m.applySeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		return in.storeError(kindEvents, t, len(payload), err)
	}
	in.m.batches.Inc()
	in.m.eventsApplied.Add(float64(applied.Applied))
	in.m.eventsSkipped.Add(float64(applied.Skipped))
	if applied.NewEpoch {
		in.log.Warn("agent seqs restarted under a new epoch (its database was replaced)", "router", t.Router, "epoch", applied.Epoch)
	}
	if applied.Skipped > 0 {
		in.log.Debug("skipped events already applied", "router", t.Router, "skipped", applied.Skipped, "last_seq", applied.LastSeq)
	}
	if in.bus != nil && applied.Applied > 0 {
		// Headed by BatchApplied even when nothing changed, so the router's
		// chain of batches has no holes (see controlplane.BatchApplied).
		in.publish(append([]controlplane.Change{controlplane.BatchApplied{
			TenantID: applied.TenantID, RouterID: t.Router, Epoch: applied.Epoch, Prev: applied.PrevSeq, Last: applied.LastSeq, Changes: len(applied.Changes),
		}}, applied.Changes...)...)
	}
	return nil
}

// publish announces committed changes. It runs before the broker's PUBACK,
// so the time it waits for slow bus subscribers delays the agent; the Bus
// bounds it (Bus.MaxWait) and sitepulse_ingest_bus_wait_seconds shows it.
func (in *Ingest) publish(changes ...controlplane.Change) {
	start := time.Now()
	in.bus.Publish(changes...)
	in.m.busWait.Observe(time.Since(start).Seconds())
}

// apply applies b, waiting up to in.wait for the batch it follows.
func (in *Ingest) apply(ctx context.Context, b *protocol.EventBatch) (controlplane.Applied, error) {
	if in.wait <= 0 {
		b.Prev = 0 // in order by construction
		return in.st.ApplyBatch(ctx, b)
	}
	deadline := time.Now().Add(in.wait)
	pause := 5 * time.Millisecond
	waited := false
	for {
		applied, err := in.st.ApplyBatch(ctx, b)
		var pe *controlplane.PredecessorError
		if !errors.As(err, &pe) {
			if waited && err == nil {
				in.m.predecessor.WithLabelValues("applied").Inc()
			}
			return applied, err
		}
		waited = true
		if time.Now().After(deadline) {
			// Most likely the batch it follows was rejected for good; if it
			// is only late, its events will be skipped as replays.
			in.m.predecessor.WithLabelValues("timeout").Inc()
			in.log.Warn("applying a batch whose predecessor never came", "router", b.Router, "prev", pe.Prev, "last_seq", pe.LastSeq, "waited", in.wait)
			b.Prev = 0
			return in.st.ApplyBatch(ctx, b)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return controlplane.Applied{}, fmt.Errorf("wait for seq %d of router %s: %w", pe.Prev, b.Router, ctx.Err())
		case <-t.C:
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

func (in *Ingest) status(ctx context.Context, t protocol.Topic, payload []byte) error {
	st, err := protocol.DecodeStatus(payload)
	if err != nil {
		return in.reject(protocol.Reason(err), t.Router, t.String(), len(payload), err)
	}
	if st.Router != t.Router {
		return in.reject(ReasonRouterMismatch, t.Router, t.String(), len(payload), fmt.Errorf("status of router %q", st.Router))
	}
	r, changed, err := in.st.SetRouterStatus(ctx, st)
	if err != nil {
		return in.storeError(kindStatus, t, len(payload), err)
	}
	in.m.statuses.WithLabelValues(string(st.State)).Inc()
	if changed && in.bus != nil {
		in.publish(controlplane.RouterStatusChanged{Router: r})
	}
	return nil
}

func (in *Ingest) cmdResult(ctx context.Context, t protocol.Topic, payload []byte) error {
	res, err := protocol.DecodeCommandResult(payload)
	if err != nil {
		return in.reject(protocol.Reason(err), t.Router, t.String(), len(payload), err)
	}
	if res.Router != t.Router {
		return in.reject(ReasonRouterMismatch, t.Router, t.String(), len(payload), fmt.Errorf("result of router %q", res.Router))
	}
	if in.results == nil {
		in.m.commandResults.WithLabelValues("ignored").Inc()
		return nil
	}
	if err := in.results.ApplyCommandResult(ctx, res); err != nil {
		return in.storeError(kindCmdResult, t, len(payload), err)
	}
	in.m.commandResults.WithLabelValues("applied").Inc()
	return nil
}

func (in *Ingest) radiusState(ctx context.Context, t protocol.Topic, payload []byte) error {
	st, err := protocol.DecodeRadiusState(payload)
	if err != nil {
		return in.reject(protocol.Reason(err), t.Router, t.String(), len(payload), err)
	}
	if st.Router != t.Router {
		return in.reject(ReasonRouterMismatch, t.Router, t.String(), len(payload), fmt.Errorf("radius state of router %q", st.Router))
	}
	if in.radius == nil {
		in.m.radius.WithLabelValues(kindRadiusState, "ignored").Inc()
		return nil
	}
	if err := in.radius.HandleRadiusState(ctx, st); err != nil {
		return in.storeError(kindRadiusState, t, len(payload), err)
	}
	in.m.radius.WithLabelValues(kindRadiusState, "applied").Inc()
	return nil
}

func (in *Ingest) radiusAsk(ctx context.Context, t protocol.Topic, payload []byte) error {
	a, err := protocol.DecodeRadiusAsk(payload)
	if err != nil {
		return in.reject(protocol.Reason(err), t.Router, t.String(), len(payload), err)
	}
	if a.Router != t.Router {
		return in.reject(ReasonRouterMismatch, t.Router, t.String(), len(payload), fmt.Errorf("radius ask of router %q", a.Router))
	}
	if in.radius == nil {
		in.m.radius.WithLabelValues(kindRadiusAsk, "ignored").Inc()
		return nil
	}
	if err := in.radius.HandleRadiusAsk(ctx, a); err != nil {
		return in.storeError(kindRadiusAsk, t, len(payload), err)
	}
	in.m.radius.WithLabelValues(kindRadiusAsk, "applied").Inc()
	return nil
}

// What a store error concerned, the label of sitepulse_ingest_failures_total.
const (
	kindEvents      = "events"
	kindStatus      = "status"
	kindCmdResult   = "cmd_result"
	kindRadiusState = "radius_state"
	kindRadiusAsk   = "radius_ask"
)

// storeError turns the store's permanent answers into rejections and
// wraps anything else for a retry.
func (in *Ingest) storeError(kind string, t protocol.Topic, size int, err error) error {
	switch controlplane.ErrorCode(err) {
	case controlplane.ENOTFOUND:
		if kind == kindCmdResult {
			return in.reject(ReasonUnknownCommand, t.Router, t.String(), size, err)
		}
		return in.reject(ReasonUnknownRouter, t.Router, t.String(), size, err)
	case controlplane.EUNAUTHORIZED:
		return in.reject(ReasonRevoked, t.Router, t.String(), size, err)
	case controlplane.EINVALID:
		return in.reject(ReasonStoreInvalid, t.Router, t.String(), size, err)
	}
	in.m.failures.WithLabelValues(kind).Inc()
	in.log.Error("ingest failed; the agent will resend", "router", t.Router, "topic", t.String(), "error", err)
	return fmt.Errorf("ingest %s of router %s: %w", kind, t.Router, err)
}

func (in *Ingest) reject(reason, router, topic string, size int, err error) error {
	in.m.rejected.WithLabelValues(reason).Inc()
	// Never the payload: it may carry subscriber data.
	in.log.Warn("ingest rejected message", "reason", reason, "router", router, "topic", fmt.Sprintf("%.200q", topic), "bytes", size, "error", err)
	return &RejectError{Reason: reason, Router: router, Err: err}
}

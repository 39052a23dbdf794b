package controlplane

import "fmt"

// Applied is the outcome of applying an agent's event batch (the store's
// ApplyBatch).
type Applied struct {
	// TenantID owns the router.
	TenantID int64
	// Applied counts events applied now; Skipped those already applied
	// before (seq <= the router's last_seq), i.e. redeliveries.
	Applied, Skipped int
	// PrevSeq is the router's last applied seq before the batch, LastSeq
	// the one after it, both in Epoch (0 before the first batch of a new
	// epoch).
	PrevSeq, LastSeq uint64
	// Epoch is the router's seq space after the batch (see
	// protocol.EventBatch.Epoch); NewEpoch reports that this batch started
	// it, retiring another.
	Epoch    string
	NewEpoch bool
	// Changes are what the applied events changed, in event order, for the
	// Bus once the caller knows the batch committed: SessionStarted,
	// SessionUpdated, SessionEnded and RouterResourcesUpdated, with full
	// session data and tenant filled in.
	Changes []Change
}

// PredecessorError refuses a batch whose predecessor (EventBatch.Prev) is
// not applied yet. Its code is EUNAVAILABLE: try again shortly.
type PredecessorError struct {
	Router        string
	Prev, LastSeq uint64
}

func (e *PredecessorError) Error() string {
	return fmt.Sprintf("router %s: the batch follows seq %d, applied only up to %d", e.Router, e.Prev, e.LastSeq)
}

// Unwrap gives the error its code.
func (e *PredecessorError) Unwrap() error {
	return Errorf(EUNAVAILABLE, "predecessor not applied yet")
}

// PredecessorMissing marks the error for callers that wait and retry.
func (e *PredecessorError) PredecessorMissing() bool { return true }

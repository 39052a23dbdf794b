package ingest

import (
	"github.com/sitepulse/sitepulse/controlplane"
)

// Rejection reasons, the label values of sitepulse_ingest_rejected_total,
// besides protocol.Reason's "too_large", "version", "invalid_field" and
// "malformed".
const (
	ReasonTopic          = "topic"           // not a topic agents publish on
	ReasonRouterMismatch = "router_mismatch" // the payload names another router than its topic
	ReasonUnknownRouter  = "unknown_router"  // the store does not know the router
	ReasonRevoked        = "revoked"         // the router's credential was revoked
	ReasonUnknownCommand = "unknown_command" // a result for a command the control plane does not know
	ReasonStoreInvalid   = "store_invalid"   // valid on the wire, refused by the store
)

var reasons = []string{
	"too_large", "version", "invalid_field", "malformed",
	ReasonTopic, ReasonRouterMismatch, ReasonUnknownRouter, ReasonRevoked, ReasonUnknownCommand, ReasonStoreInvalid,
}

// RejectError reports a message that can never be applied; the broker
// acknowledges and drops it. Through Unwrap it carries a
// *controlplane.Error whose code says so (ETOOLARGE, ENOTFOUND,
// EUNAUTHORIZED or EINVALID).
type RejectError struct {
	Reason string // a label of sitepulse_ingest_rejected_total
	Router string // the router of the topic, if it parsed
	Err    error  // the decoder's or store's error
}

func (e *RejectError) Error() string {
	return "ingest rejected message (" + e.Reason + "): " + e.Err.Error()
}

// Code is the controlplane error code of the rejection.
func (e *RejectError) Code() string {
	switch e.Reason {
	case "too_large":
		return controlplane.ETOOLARGE
	case ReasonUnknownRouter, ReasonUnknownCommand:
		return controlplane.ENOTFOUND
	case ReasonRevoked:
		return controlplane.EUNAUTHORIZED
	default:
		return controlplane.EINVALID
	}
}

// Unwrap returns the rejection as a *controlplane.Error, then the cause.
func (e *RejectError) Unwrap() []error {
	return []error{&controlplane.Error{Code: e.Code(), Message: "rejected: " + e.Reason}, e.Err}
}

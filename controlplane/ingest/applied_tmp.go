package ingest

import "github.com/sitepulse/sitepulse/controlplane"

// Applied mirrors store.Applied until controlplane/store lands (TEMPORARY).
type Applied struct {
	TenantID         int64
	Applied, Skipped int
	LastSeq          uint64
	Changes          []controlplane.Change
}

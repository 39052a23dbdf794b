package controlplane

import (
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

// SessionFilter selects live sessions. Zero fields match everything.
type SessionFilter struct {
	RouterID string
	Kind     protocol.SessionKind
	User     string // case-insensitive substring of the user name
	Limit    int    // <= 0: no limit
	Offset   int
}

// HistoryFilter selects ended sessions. Zero fields match everything.
type HistoryFilter struct {
	RouterID string
	User     string    // case-insensitive substring of the user name
	From     time.Time // ended at or after; zero: no bound
	To       time.Time // ended before; zero: no bound
	Limit    int       // <= 0: no limit
	Offset   int
}

// CommandFilter selects commands. Zero fields match everything.
type CommandFilter struct {
	RouterID  string
	BulkID    string
	Status    CommandStatus
	Kind      protocol.CommandKind
	AccountID int64
	Limit     int // <= 0: no limit
	Offset    int
}

// AccountFilter selects accounts. Zero fields match everything.
type AccountFilter struct {
	Kind     AccountKind
	Name     string // case-insensitive substring
	RouterID string // provisioned to this router
	State    string // has a router in this sync state
	Limit    int    // <= 0: no limit
	Offset   int
}

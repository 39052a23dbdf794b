package pusher

import (
	"strings"
)

// validTriggerChannel reports whether an HTTP API event may name channel:
// a channel name, or a signed-in user's #server-to-user-{id}.
func validTriggerChannel(channel string) bool {
	if id, ok := strings.CutPrefix(channel, ServerToUserPrefix); ok {
		return ValidUserID(id)
	}
	return ValidChannelName(channel)
}

// terminate closes every connection of a signed-in user, here and, through
// the peers, on the other replicas.
func (a *APIHandler) terminate(userID string) (any, error) {
	if !ValidUserID(userID) {
		return nil, badRequest("invalid user id %q", userID)
	}
	a.hub.TerminateUserConnections(userID)
	if p := a.hub.peers; p != nil {
		p.TerminateUser(userID)
	}
	return struct{}{}, nil
}

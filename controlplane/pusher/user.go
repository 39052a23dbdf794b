package pusher

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// User authentication (pusher-js signin): a connection proves who its user
// is with pusher:signin {auth, user_data}; from then on the server can send
// it events on #server-to-user-{id} (Hub.SendToUser, or the HTTP API on that
// channel) and close all of a user's connections
// (Hub.TerminateUserConnections, POST /apps/{id}/users/{id}/terminate_connections).

// ServerToUserPrefix starts the channel name a signed-in user's events are
// sent on: "#server-to-user-" + user id. pusher-js subscribes to it after
// pusher:signin_success and hands its events to pusher.user.bind.
const ServerToUserPrefix = "#server-to-user-"

// CodeTerminated closes the connections of a user whose connections the
// app terminated, and of a connection whose signin was refused: Pusher's
// 4009 "connection is unauthorized" (pusher-js does not reconnect
// unchanged), with the message other Pusher servers (soketi, sockudo)
// send.
const CodeTerminated = 4009

// UserData is the user_data a user authentication endpoint signs: Pusher
// requires id; user_info and watchlist are optional.
type UserData struct {
	ID        string   `json:"id"`
	UserInfo  any      `json:"user_info,omitempty"`
	Watchlist []string `json:"watchlist,omitempty"`
}

// SignUser returns the auth string of pusher:signin: "key:" +
// hex(HMAC-SHA256(secret, "socketID::user::userData")), userData exactly as
// the client will send it.
func SignUser(key, secret, socketID, userData string) string {
	return key + ":" + hex.EncodeToString(userMAC(secret, socketID, userData))
}

func userMAC(secret, socketID, userData string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(socketID))
	m.Write([]byte("::user::"))
	m.Write([]byte(userData))
	return m.Sum(nil)
}

// VerifyUserAuth reports whether auth is the signin auth string for this
// socket and user data, comparing the signature in constant time.
func VerifyUserAuth(key, secret, socketID, userData, auth string) bool {
	gotKey, gotSig, ok := strings.Cut(auth, ":")
	if !ok || subtle.ConstantTimeCompare([]byte(gotKey), []byte(key)) != 1 {
		return false
	}
	sig, err := hex.DecodeString(gotSig)
	if err != nil {
		return false
	}
	return hmac.Equal(sig, userMAC(secret, socketID, userData))
}

// ValidUserID reports whether id can identify a signed-in user: 1 to 128
// bytes (Pusher's user id limit) of the channel-name alphabet, so that it
// is safe in a channel name, a URL path and an MQTT topic payload.
func ValidUserID(id string) bool {
	if id == "" || len(id) > maxUserIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !channelNameByte[id[i]] {
			return false
		}
	}
	return true
}

// ParseUserData decodes the user_data of a signin and returns the user id.
// It must be a JSON object whose id is a non-empty string (pusher-js drops
// a signin whose id is anything else).
func ParseUserData(s string) (string, error) {
	if len(s) > maxUserInfoSize*4 {
		return "", fmt.Errorf("user_data is larger than %d bytes", maxUserInfoSize*4)
	}
	var d struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return "", errors.New("user_data is not a JSON object")
	}
	var id string
	if len(d.ID) == 0 || d.ID[0] != '"' || json.Unmarshal(d.ID, &id) != nil {
		return "", errors.New(`user_data needs an "id" string`)
	}
	if !ValidUserID(id) {
		return "", fmt.Errorf("user_data id must have 1 to %d characters from [-a-zA-Z0-9_=@,.;]", maxUserIDLength)
	}
	return id, nil
}

// userRegistry maps signed-in connections to their users. It has its own
// lock: sending to a user never touches the channel table.
type userRegistry struct {
	mu     sync.Mutex
	byUser map[string]map[*conn]struct{}
	byConn map[*conn]string
	// watches maps a connection to the user ids on its watchlist, and
	// watchers a user id to the connections watching it (watchlist.go).
	watches  map[*conn][]string
	watchers map[string]map[*conn]struct{}
}

// set records c as signed in as id (moving it from another user) with its
// watchlist, and queues first, the signin confirmation, under the lock, so
// that no event sent to the user reaches c before it.
func (r *userRegistry) set(c *conn, id string, watchlist []string, first []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byUser == nil {
		r.byUser = make(map[string]map[*conn]struct{})
		r.byConn = make(map[*conn]string)
	}
	r.removeLocked(c)
	c.enqueueData(first)
	set := r.byUser[id]
	if set == nil {
		set = make(map[*conn]struct{})
		r.byUser[id] = set
		r.notifyWatchersLocked(id, watchOnline)
	}
	set[c] = struct{}{}
	r.byConn[c] = id
	r.watchLocked(c, watchlist)
}

// remove forgets c; it is idempotent.
func (r *userRegistry) remove(c *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removeLocked(c)
}

func (r *userRegistry) removeLocked(c *conn) {
	id, ok := r.byConn[c]
	if !ok {
		return
	}
	delete(r.byConn, c)
	r.unwatchLocked(c)
	if set := r.byUser[id]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(r.byUser, id)
			r.notifyWatchersLocked(id, watchOffline)
		}
	}
}

// user returns the user c signed in as.
func (r *userRegistry) user(c *conn) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.byConn[c]
	return id, ok
}

// each calls f for every connection of user id, under the lock (f must not
// block).
func (r *userRegistry) each(id string, f func(*conn)) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.byUser[id]
	for c := range set {
		f(c)
	}
	return len(set)
}

// handleSignin answers pusher:signin {auth, user_data}. A bad signature or
// user data is answered as other Pusher servers do: pusher:error 4009 and a
// close with 4009.
func (c *conn) handleSignin(data json.RawMessage) {
	h := c.hub
	var d struct {
		Auth     string `json:"auth"`
		UserData string `json:"user_data"`
	}
	refuse := func(result, message string) {
		h.metrics.signins.WithLabelValues(result).Inc()
		c.requestClose(CodeTerminated, message, true)
	}
	if err := decodeData(data, &d); err != nil || d.Auth == "" || d.UserData == "" {
		h.metrics.badFrames.Inc()
		refuse("bad_request", `pusher:signin needs data {"auth": string, "user_data": string}`)
		return
	}
	if !VerifyUserAuth(h.opts.Key, h.opts.Secret, c.socketID, d.UserData, d.Auth) {
		refuse("bad_signature", "Connection not authorized: invalid signin signature for this socket and user_data")
		return
	}
	id, err := ParseUserData(d.UserData)
	if err != nil {
		refuse("bad_user_data", "Connection not authorized: "+err.Error())
		return
	}
	watchlist, err := parseWatchlist(d.UserData)
	if err != nil {
		refuse("bad_user_data", "Connection not authorized: "+err.Error())
		return
	}
	h.users.set(c, id, watchlist, encodeEventJSON("pusher:signin_success", "", struct {
		UserData string `json:"user_data"`
	}{d.UserData}))
	h.metrics.signins.WithLabelValues("ok").Inc()
}

// subscribeServerToUser answers pusher-js's subscription to its own
// #server-to-user-{id} channel: the connection already receives it since
// signin, so this only confirms it. Any other such channel is refused.
func (c *conn) subscribeServerToUser(channel string) {
	id, ok := c.hub.users.user(c)
	if !ok || channel != ServerToUserPrefix+id {
		c.hub.metrics.authFailures.WithLabelValues("server_to_user").Inc()
		c.subscriptionError(channel, "#server-to-user- channels are only for the connection's own signed-in user", 403)
		return
	}
	c.enqueueData(encodeEvent("pusher_internal:subscription_succeeded", channel, "{}"))
}

// SendToUser sends event with data, marshalled to JSON, to every connection
// signed in as userID, on its #server-to-user- channel (what the HTTP API
// does for a trigger on that channel): on this hub, and through the
// function given to ForwardAPIEvents on the other replicas. It never
// blocks.
func (h *Hub) SendToUser(userID, event string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("send %s to user %s: marshal data: %w", event, userID, err)
	}
	if err := h.sendToUserRaw(userID, event, string(b), ""); err != nil {
		return err
	}
	if f := h.forward; f != nil {
		f(APIEvent{Channels: []string{ServerToUserPrefix + userID}, Name: event, Data: string(b)})
	}
	return nil
}

// sendToUserRaw is SendToUser for encoded data, skipping the connection
// whose socket id is except.
func (h *Hub) sendToUserRaw(userID, event, data, except string) error {
	if !ValidUserID(userID) {
		return fmt.Errorf("send %s: invalid user id %q", event, userID)
	}
	if !validEventName(event) {
		return fmt.Errorf("send to user %s: %w", userID, ErrInvalidEvent)
	}
	h.metrics.published.Inc()
	frame := outMsg{data: encodeEvent(event, ServerToUserPrefix+userID, data)}
	h.users.each(userID, func(c *conn) {
		if c.socketID != except {
			c.enqueue(frame)
		}
	})
	return nil
}

// TerminateUserConnections closes every connection signed in as userID on
// this hub with 4009 and returns how many there were.
func (h *Hub) TerminateUserConnections(userID string) int {
	n := h.users.each(userID, func(c *conn) {
		c.requestClose(CodeTerminated, "You got disconnected by the app.", true)
	})
	if n > 0 {
		h.metrics.terminated.Add(float64(n))
	}
	return n
}

// SignedInUsers returns the ids of the users signed in on this hub, sorted.
func (h *Hub) SignedInUsers() []string {
	h.users.mu.Lock()
	ids := make([]string, 0, len(h.users.byUser))
	for id := range h.users.byUser {
		ids = append(ids, id)
	}
	h.users.mu.Unlock()
	sort.Strings(ids)
	return ids
}

package pusher

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Limits of the Pusher HTTP API.
const (
	// MaxTriggerChannels is the most channels one POST events may name.
	MaxTriggerChannels = 100
	// MaxBatchEvents is the most events one POST batch_events may carry.
	MaxBatchEvents = 10
	// maxAPIBody bounds a request body: a full batch of maximal events
	// with JSON escaping fits comfortably.
	maxAPIBody = 256 << 10
)

// APIHandler serves the Pusher HTTP API under /apps/{app_id}/ so that other
// backends (a Laravel app, the pusher npm SDK) can publish through the hub:
//
//	POST /apps/{id}/events               {name, data, channel|channels, socket_id?, info?}
//	POST /apps/{id}/batch_events         {batch: [{channel, name, data, socket_id?, info?}]}
//	GET  /apps/{id}/channels             ?filter_by_prefix=&info=user_count
//	GET  /apps/{id}/channels/{name}      ?info=subscription_count,user_count
//	GET  /apps/{id}/channels/{name}/users
//	POST /apps/{id}/users/{user_id}/terminate_connections
//
// Events on #server-to-user-{user_id} go to that signed-in user's
// connections (Hub.SendToUser).
//
// Every request must carry a valid signed query (see RequestVerifier);
// failures answer 401, an unknown app 404, event data over the message
// size limit 413.
type APIHandler struct {
	hub      *Hub
	verifier RequestVerifier
}

// NewAPIHandler returns the HTTP API of hub's app.
func NewAPIHandler(hub *Hub) *APIHandler {
	return &APIHandler{hub: hub, verifier: RequestVerifier{
		Key: hub.opts.Key, Secret: hub.opts.Secret, Now: hub.opts.Now,
	}}
}

func badRequest(format string, args ...any) error {
	return controlplane.Errorf(controlplane.EINVALID, format, args...)
}

// ServeHTTP implements http.Handler.
func (a *APIHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	resp, err := a.serve(r)
	if err != nil {
		if controlplane.ErrorCode(err) == controlplane.EINTERNAL {
			a.hub.log.Error("pusher http api", "path", r.URL.Path, "err", err)
		}
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (a *APIHandler) serve(r *http.Request) (any, error) {
	// /apps/{id}/{rest...}
	rest, ok := strings.CutPrefix(r.URL.Path, "/apps/")
	if !ok {
		return nil, controlplane.Errorf(controlplane.ENOTFOUND, "not found")
	}
	appID, rest, _ := strings.Cut(rest, "/")
	if appID != a.hub.opts.AppID {
		return nil, controlplane.Errorf(controlplane.ENOTFOUND, "unknown app id")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAPIBody+1))
	if err != nil {
		return nil, badRequest("read body: %v", err)
	}
	if len(body) > maxAPIBody {
		return nil, controlplane.Errorf(controlplane.ETOOLARGE, "body larger than %d bytes", maxAPIBody)
	}
	if err := a.verify(r, body); err != nil {
		a.hub.metrics.authFailures.WithLabelValues("api_signature").Inc()
		return nil, controlplane.Errorf(controlplane.EUNAUTHORIZED, "%v", err)
	}
	q := r.URL.Query()
	switch parts := strings.Split(rest, "/"); {
	case rest == "events":
		if r.Method != http.MethodPost {
			return nil, badRequest("use POST for events")
		}
		return a.trigger(body)
	case rest == "batch_events":
		if r.Method != http.MethodPost {
			return nil, badRequest("use POST for batch_events")
		}
		return a.batch(body)
	case rest == "channels":
		if r.Method != http.MethodGet {
			return nil, badRequest("use GET for channels")
		}
		return a.channels(r.Context(), q.Get("filter_by_prefix"), q.Get("info"))
	case parts[0] == "channels" && len(parts) == 2:
		if r.Method != http.MethodGet {
			return nil, badRequest("use GET for a channel")
		}
		return a.channel(r.Context(), parts[1], q.Get("info"))
	case parts[0] == "users" && len(parts) == 3 && parts[2] == "terminate_connections":
		if r.Method != http.MethodPost {
			return nil, badRequest("use POST for terminate_connections")
		}
		return a.terminate(parts[1])
	case parts[0] == "channels" && len(parts) == 3 && parts[2] == "users":
		if r.Method != http.MethodGet {
			return nil, badRequest("use GET for users")
		}
		return a.users(r.Context(), parts[1])
	default:
		return nil, controlplane.Errorf(controlplane.ENOTFOUND, "no such endpoint")
	}
}

// verify checks the signature against the path as decoded and, when the
// client escaped characters, as it was sent: SDKs sign the path they build,
// before or after escaping.
func (a *APIHandler) verify(r *http.Request, body []byte) error {
	err := a.verifier.Verify(r.Method, r.URL.Path, r.URL.RawQuery, body)
	if err != nil && r.URL.RawPath != "" && r.URL.RawPath != r.URL.Path {
		if a.verifier.Verify(r.Method, r.URL.RawPath, r.URL.RawQuery, body) == nil {
			return nil
		}
	}
	return err
}

// event is one event to publish, as in POST events and batch_events.
type event struct {
	Name     string          `json:"name"`
	Data     json.RawMessage `json:"data"`
	Channel  string          `json:"channel"`
	Channels []string        `json:"channels"`
	SocketID string          `json:"socket_id"`
	Info     string          `json:"info"`
}

// prepared is a validated event.
type prepared struct {
	name, data, socketID string
	channels             []string
	info                 infoFields
}

func (a *APIHandler) prepare(e event, batch bool) (prepared, error) {
	p := prepared{name: e.Name, socketID: e.SocketID}
	if !validEventName(e.Name) {
		return p, badRequest("name must have 1 to %d bytes", MaxEventNameLength)
	}
	if strings.HasPrefix(e.Name, "pusher:") || strings.HasPrefix(e.Name, "pusher_internal:") {
		return p, badRequest("event names starting with pusher: are reserved")
	}
	switch {
	case len(e.Data) == 0 || string(e.Data) == "null":
		return p, badRequest("data is required")
	case e.Data[0] == '"':
		if err := json.Unmarshal(e.Data, &p.data); err != nil {
			return p, badRequest("data is not a valid JSON string")
		}
	default:
		// Lenient: an object is delivered as its JSON text, as if the
		// client had encoded it.
		var buf bytes.Buffer
		if err := json.Compact(&buf, e.Data); err != nil {
			return p, badRequest("data is not valid JSON")
		}
		p.data = buf.String()
	}
	if int64(len(p.data)) > a.hub.opts.MaxMessageSize {
		return p, controlplane.Errorf(controlplane.ETOOLARGE,
			"data is %d bytes, more than the %d allowed", len(p.data), a.hub.opts.MaxMessageSize)
	}
	switch {
	case batch && (e.Channel == "" || len(e.Channels) > 0):
		return p, badRequest("each batch event needs exactly one channel")
	case e.Channel != "" && len(e.Channels) > 0:
		return p, badRequest("give channel or channels, not both")
	case e.Channel != "":
		p.channels = []string{e.Channel}
	default:
		p.channels = e.Channels
	}
	if len(p.channels) == 0 || len(p.channels) > MaxTriggerChannels {
		return p, badRequest("give 1 to %d channels", MaxTriggerChannels)
	}
	for _, ch := range p.channels {
		if !validTriggerChannel(ch) {
			return p, badRequest("invalid channel name %q", ch)
		}
	}
	if e.SocketID != "" && !ValidSocketID(e.SocketID) {
		return p, badRequest("socket_id must look like 123.456")
	}
	var err error
	if p.info, err = parseInfo(e.Info); err != nil {
		return p, err
	}
	if p.info.userCount {
		for _, ch := range p.channels {
			if KindOf(ch) != ChannelPresence {
				return p, badRequest("info=user_count is only available for presence channels")
			}
		}
	}
	return p, nil
}

// APIEvent is an event a backend published through the HTTP API, as it
// travels to the other control-plane replicas (see Hub.ForwardAPIEvents):
// their fan-outs hand it to their hubs as this replica's API handler did.
type APIEvent struct {
	Channels []string `json:"channels"`
	Name     string   `json:"name"`
	Data     string   `json:"data"`
	SocketID string   `json:"socket_id,omitempty"`
}

// ForwardAPIEvents makes the HTTP API hand every event it publishes to f
// as well, after publishing it on this hub: a replica relays them so that
// sockets on every replica get them. Call it before serving.
func (h *Hub) ForwardAPIEvents(f func(APIEvent)) { h.forward = f }

// publish sends a validated event and returns the info it asked for.
func (a *APIHandler) publish(p prepared) (map[string]any, error) {
	for _, ch := range p.channels {
		if err := a.hub.PublishRaw(ch, p.name, p.data, p.socketID); err != nil {
			return nil, badRequest("%v", err)
		}
	}
	if f := a.hub.forward; f != nil {
		f(APIEvent{Channels: p.channels, Name: p.name, Data: p.data, SocketID: p.socketID})
	}
	if !p.info.any() {
		return nil, nil
	}
	out := make(map[string]any, len(p.channels))
	for _, ch := range p.channels {
		info, _ := a.hub.Channel(ch)
		out[ch] = p.info.render(info)
	}
	return out, nil
}

func decodeBody(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return badRequest("body is not valid JSON: %v", err)
	}
	if dec.More() {
		return badRequest("body has data after the JSON value")
	}
	return nil
}

func (a *APIHandler) trigger(body []byte) (any, error) {
	var e event
	if err := decodeBody(body, &e); err != nil {
		return nil, err
	}
	p, err := a.prepare(e, false)
	if err != nil {
		return nil, err
	}
	info, err := a.publish(p)
	if err != nil {
		return nil, err
	}
	if info == nil {
		return struct{}{}, nil
	}
	return map[string]any{"channels": info}, nil
}

func (a *APIHandler) batch(body []byte) (any, error) {
	var b struct {
		Batch []event `json:"batch"`
	}
	if err := decodeBody(body, &b); err != nil {
		return nil, err
	}
	if len(b.Batch) == 0 || len(b.Batch) > MaxBatchEvents {
		return nil, badRequest("batch must hold 1 to %d events", MaxBatchEvents)
	}
	// Validate everything before publishing anything.
	ps := make([]prepared, len(b.Batch))
	anyInfo := false
	for i, e := range b.Batch {
		p, err := a.prepare(e, true)
		if err != nil {
			// prepare's errors are all *controlplane.Error.
			return nil, controlplane.Errorf(controlplane.ErrorCode(err), "batch[%d]: %s", i, controlplane.ErrorMessage(err))
		}
		ps[i] = p
		anyInfo = anyInfo || p.info.any()
	}
	results := make([]any, len(ps))
	for i, p := range ps {
		info, err := a.publish(p)
		if err != nil {
			return nil, err
		}
		results[i] = struct{}{}
		if info != nil {
			results[i] = info[p.channels[0]]
		}
	}
	if !anyInfo {
		return struct{}{}, nil
	}
	return map[string]any{"batch": results}, nil
}

// infoFields are the attributes requested with info=.
type infoFields struct {
	subscriptionCount, userCount bool
}

func parseInfo(s string) (infoFields, error) {
	var f infoFields
	if s == "" {
		return f, nil
	}
	for _, part := range strings.Split(s, ",") {
		switch strings.TrimSpace(part) {
		case "subscription_count":
			f.subscriptionCount = true
		case "user_count":
			f.userCount = true
		case "":
		default:
			return f, badRequest("unknown info attribute %q (subscription_count, user_count)", part)
		}
	}
	return f, nil
}

func (f infoFields) any() bool { return f.subscriptionCount || f.userCount }

func (f infoFields) render(info ChannelInfo) map[string]int {
	out := map[string]int{}
	if f.subscriptionCount {
		out["subscription_count"] = info.SubscriptionCount
	}
	if f.userCount {
		out["user_count"] = info.UserCount
	}
	return out
}

func (a *APIHandler) channels(ctx context.Context, prefix, infoParam string) (any, error) {
	info, err := parseInfo(infoParam)
	if err != nil {
		return nil, err
	}
	if info.userCount && !strings.HasPrefix(prefix, prefixPresence) {
		return nil, badRequest("info=user_count needs filter_by_prefix=presence-")
	}
	out := map[string]map[string]int{}
	for name, t := range a.hub.occupancy(ctx, OccupancyQuery{Prefix: prefix, Users: info.userCount}) {
		out[name] = info.render(t.info(name))
	}
	return map[string]any{"channels": out}, nil
}

func (a *APIHandler) channel(ctx context.Context, name, infoParam string) (any, error) {
	if !ValidChannelName(name) {
		return nil, badRequest("invalid channel name %q", name)
	}
	info, err := parseInfo(infoParam)
	if err != nil {
		return nil, err
	}
	if info.userCount && KindOf(name) != ChannelPresence {
		return nil, badRequest("info=user_count is only available for presence channels")
	}
	ch := ChannelInfo{Name: name}
	t, occupied := a.hub.occupancy(ctx, OccupancyQuery{Channel: name, Users: info.userCount})[name]
	if occupied {
		ch = t.info(name)
	}
	out := map[string]any{"occupied": occupied}
	for k, v := range info.render(ch) {
		out[k] = v
	}
	return out, nil
}

func (a *APIHandler) users(ctx context.Context, name string) (any, error) {
	if !ValidChannelName(name) {
		return nil, badRequest("invalid channel name %q", name)
	}
	if KindOf(name) != ChannelPresence {
		return nil, badRequest("users are only available for presence channels")
	}
	type user struct {
		ID string `json:"id"`
	}
	users := []user{}
	if t := a.hub.occupancy(ctx, OccupancyQuery{Channel: name, Users: true})[name]; t != nil {
		for _, id := range t.userIDs() {
			users = append(users, user{id})
		}
	}
	return map[string]any{"users": users}, nil
}

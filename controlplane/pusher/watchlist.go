package pusher

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// Watchlists: a signin's user_data may carry "watchlist": [user ids]. The
// connection then gets pusher_internal:watchlist_events
// {"events":[{"name":"online"|"offline","user_ids":[…]}]} (pusher-js:
// pusher.user.watchlist.bind("online", …)): right after signin for the
// watched users already signed in, then whenever one signs in on its first
// connection or leaves with its last. Per replica, like the registry.

// MaxWatchlist is the longest watchlist accepted (Pusher's limit).
const MaxWatchlist = 100

const (
	watchOnline  = "online"
	watchOffline = "offline"
)

// parseWatchlist returns the watchlist of a signin's user_data (already
// known to be a JSON object), deduplicated.
func parseWatchlist(userData string) ([]string, error) {
	var d struct {
		Watchlist []string `json:"watchlist"`
	}
	if err := json.Unmarshal([]byte(userData), &d); err != nil {
		return nil, errors.New("user_data watchlist must be a list of user id strings")
	}
	if len(d.Watchlist) > MaxWatchlist {
		return nil, fmt.Errorf("user_data watchlist has more than %d ids", MaxWatchlist)
	}
	seen := make(map[string]bool, len(d.Watchlist))
	out := d.Watchlist[:0]
	for _, id := range d.Watchlist {
		if !ValidUserID(id) {
			return nil, fmt.Errorf("user_data watchlist has an invalid user id %q", id)
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

func watchlistFrame(name string, ids []string) []byte {
	type event struct {
		Name    string   `json:"name"`
		UserIDs []string `json:"user_ids"`
	}
	return encodeEventJSON("pusher_internal:watchlist_events", "", struct {
		Events []event `json:"events"`
	}{[]event{{name, ids}}})
}

// watchLocked registers c's watchlist and tells c which of the watched
// users are online now.
func (r *userRegistry) watchLocked(c *conn, watchlist []string) {
	if len(watchlist) == 0 {
		return
	}
	if r.watches == nil {
		r.watches = make(map[*conn][]string)
		r.watchers = make(map[string]map[*conn]struct{})
	}
	r.watches[c] = watchlist
	var online []string
	for _, id := range watchlist {
		set := r.watchers[id]
		if set == nil {
			set = make(map[*conn]struct{})
			r.watchers[id] = set
		}
		set[c] = struct{}{}
		if len(r.byUser[id]) > 0 {
			online = append(online, id)
		}
	}
	if len(online) > 0 {
		sort.Strings(online)
		c.enqueueData(watchlistFrame(watchOnline, online))
	}
}

// unwatchLocked forgets c's watchlist.
func (r *userRegistry) unwatchLocked(c *conn) {
	for _, id := range r.watches[c] {
		if set := r.watchers[id]; set != nil {
			delete(set, c)
			if len(set) == 0 {
				delete(r.watchers, id)
			}
		}
	}
	delete(r.watches, c)
}

// notifyWatchersLocked tells the connections watching id that it went
// online or offline.
func (r *userRegistry) notifyWatchersLocked(id, name string) {
	set := r.watchers[id]
	if len(set) == 0 {
		return
	}
	frame := outMsg{data: watchlistFrame(name, []string{id})}
	for c := range set {
		c.enqueue(frame)
	}
}

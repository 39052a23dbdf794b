package agent

// FailCommits makes every outbox commit of a fail with f's error while f
// returns one (a full disk); nil restores normal commits.
func FailCommits(a *Agent, f func() error) {
	if f == nil {
		a.ob.commitFault.Store(nil)
		return
	}
	a.ob.commitFault.Store(&f)
}

// ParseDuration parses a RouterOS duration as the agent does.
var ParseDuration = parseDuration

// Package fanout renders the control plane's changes onto SitePulse's
// realtime channels: it reads the bus ([Fanout]), builds each event's
// payload field by field from the domain types with phone numbers and
// emails masked (mask.go, the one place masking lives), numbers every
// channel's events, and publishes them on a Pusher server
// (controlplane/pusher). It also owns the channel layout
// (private-tenant.{t}.{topic}, private-system-admin) and so the policy of
// who may join which channel ([CanSubscribe], [ChannelAuth]).
//
// The split from controlplane/pusher is the line between SitePulse and the
// protocol: the pusher package would serve any Pusher app; this one is what
// SitePulse says on it.
package fanout

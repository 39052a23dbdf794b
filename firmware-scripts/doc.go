// Package firmwarescripts embeds the RouterOS scripts (.rsc) that an ISP
// imports on a router to run the SitePulse agent (01–03; 04 makes the agent
// the router's RADIUS server for hotspot and PPP; 99 removes it all)
// and to send its hotspot customers to the SitePulse portal
// (hotspot-portal.rsc), and interprets the subset
// of the RouterOS scripting language they use into API sentences, so that a
// test can run every script against the simulator and catch a menu path or
// attribute that RouterOS would not know.
package firmwarescripts

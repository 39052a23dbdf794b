// Package radius holds the end-to-end tests of RADIUS at the edge, run on
// the real binaries over UDP and TCP: `sitepulse serve`, `sitepulse-sim`
// routers set up by firmware-scripts/04-radius.rsc, and `sitepulse-agent`
// answering their RADIUS. It has no non-test code.
package radius

// Package cliflag gives the standard flag package what the small binaries
// (the agent, the simulator) need to read like the control plane's
// urfave/cli commands: an environment fallback for every flag and a --help
// in urfave/cli v3's shape, with flags in named groups:
//
//	OPTIONS:
//	   RouterOS
//
//	   --router-addr string  RouterOS API address (default: "…") [$SITEPULSE_ROUTER_ADDR]
//
// It costs the agent no new dependency: urfave/cli would add megabytes to a
// binary that runs on a router.
package cliflag

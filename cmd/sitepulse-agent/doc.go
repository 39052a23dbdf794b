// Command sitepulse-agent watches one MikroTik router over the RouterOS API
// and forwards its hotspot and PPPoE sessions to the SitePulse control
// plane over MQTT.
//
//	sitepulse-agent run [flags]     run the agent (flags fall back to SITEPULSE_* env)
//	sitepulse-agent status [flags]  print the running agent's local /status
//	sitepulse-agent --version
//
// Flags are parsed with the standard flag package: the agent needs plain
// string, bool, int and duration options with an environment fallback,
// which is a dozen lines on top of flag.FlagSet.VisitAll, not a reason for
// a dependency on a router-sized binary.
package main

// Command sitepulse-agent watches one MikroTik router over the RouterOS API
// and forwards its hotspot and PPPoE sessions to the SitePulse control
// plane over MQTT.
//
//	sitepulse-agent run [flags]     run the agent (flags fall back to SITEPULSE_* env)
//	sitepulse-agent status [flags]  print the running agent's local /status
//	sitepulse-agent --version
//
// Flags are parsed with the standard flag package through internal/cliflag,
// which adds the environment fallback and a --help in the control plane's
// urfave/cli shape (grouped, each flag with its variable). urfave/cli itself
// would add about 3.8 MB to a router-sized binary; cliflag adds about 10 kB.
package main

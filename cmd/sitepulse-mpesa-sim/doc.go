// Command sitepulse-mpesa-sim runs the Daraja (Safaricom M-Pesa API)
// simulator from package sim/daraja as a standalone process for demos,
// end-to-end tests and benchmarks: the Daraja API on --addr (OAuth, STK
// push and query, C2B), and a loopback HTTP control API with Prometheus
// /metrics on --control-addr. SIGINT/SIGTERM stop it.
package main

// Command bench is SitePulse's load report, run by `make bench`: it builds
// the real binaries and measures, on this machine,
//
//  1. end to end: simulated routers with churn → real agents → embedded
//     broker → ingest → store → WebSocket clients, events/s and the latency
//     from the simulator's change to the WebSocket client, on SQLite and
//     PostgreSQL;
//  2. the broker: plain mochi-mqtt vs Mosquitto under the same paho QoS 1
//     load with 1, 10 and 100 publishers, and our broker with auth, ACL and
//     ingest (the controlplane/broker Go benchmark);
//  3. fan-out: 1k and 10k WebSocket clients on tenant channels: delivered
//     messages/s, p99 latency, server memory per connection;
//  4. agent footprint: RSS and CPU of the sitepulse-agent binary at 1k and
//     10k sessions against a sitepulse-sim process; static binary sizes;
//  5. offline buffer: outbox write and replay rates (the agent's Go
//     benchmarks) and the disk an hour offline at 1,000 sessions takes,
//     time-compressed;
//  6. polling vs push: HTTP requests and bytes per dashboard-hour;
//  7. scale: thousands of MQTT clients with real credentials on one
//     control plane: memory, CPU and ingest latency;
//  8. billing: STK callback → the customer's hotspot user enabled on the
//     router (p50/p99, router online), and 200 callbacks/s for a minute,
//     first deliveries mixed with duplicates, applied exactly once.
//
// It prints a markdown table and writes bench/results/<date>.json. Every
// row names the command that produced it. BENCH_QUICK=1 (or -quick) makes
// every section small, for a smoke run.
//
//	go run ./bench                    # the full report (about 12 minutes on 2 cores)
//	BENCH_QUICK=1 go run ./bench      # a smoke run
//	go run ./bench -only fanout,agent # some sections
package main

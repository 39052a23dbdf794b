package archtest

import (
	"slices"
	"strings"
	"testing"
)

// adapterEdges lists, for each control-plane package below the domain
// root, the other control-plane packages its non-test code may import.
// Everything else an adapter needs comes from the root (controlplane:
// domain types, errors, the bus) through small interfaces declared where
// they are used, and the wiring of one adapter to another happens in
// cmd/. A new edge is a design decision: add it here with its reason.
var adapterEdges = map[string][]string{
	// Provisioning composes store transactions (a command, its account
	// state, its audit entry and its job commit together).
	"controlplane/provisioning": {"controlplane/store", "controlplane/jobs"},
	// Billing composes store transactions like provisioning (a payment,
	// its subscription, revenue and jobs commit together), runs its jobs
	// on the job runner, and adapts the M-Pesa client to its own narrow
	// Daraja interface in one file (billing/mpesa.go), and prints voucher
	// sheets with the PDF renderer (billing/voucherpdf.go).
	"controlplane/billing": {"controlplane/store", "controlplane/jobs", "controlplane/mpesa", "controlplane/voucherprint"},
	// The notification outbox writes its rows in its causes' store
	// transactions, runs its sends on the job runner, and adapts the mail,
	// SMS and Telegram clients to its narrow channel interfaces in one
	// file (notify/channels.go).
	"controlplane/notify": {"controlplane/store", "controlplane/jobs", "controlplane/mail", "controlplane/sms", "controlplane/telegram"},
	// Auth-tracking counts failed logins and writes lockouts with their
	// audit entry in store transactions, and runs its jobs (last login,
	// sweeps) on the job runner.
	"controlplane/authtrack": {"controlplane/store", "controlplane/jobs"},
	// The job runner keeps River's tables in the store's database and
	// inserts jobs in the store's transactions.
	"controlplane/jobs": {"controlplane/store"},
	// The fan-out renders domain events onto the generic Pusher server.
	"controlplane/fanout": {"controlplane/pusher"},
	// The SMS (Africa's Talking) and Telegram clients import the root
	// only: the notification service adapts them to its own interfaces.
	"controlplane/sms":      nil,
	"controlplane/telegram": nil,
	// Scale-out relays the fan-out's events between replicas' hubs.
	"controlplane/cluster": {"controlplane/fanout", "controlplane/pusher"},
	// The RADIUS sync builds its pages from the store's entries and
	// reconciles voucher uses in store transactions composed with the
	// redemption (billing's, through a small interface).
	"controlplane/radiussync": {"controlplane/store"},
	// Outgoing webhooks compose store transactions (deliveries and their
	// jobs commit together), run on the job runner, and render events with
	// the fan-out itself, so a webhook's data is exactly a dashboard's.
	"controlplane/webhooks": {"controlplane/store", "controlplane/jobs", "controlplane/fanout"},
}

// wiring are the trees allowed to import any package: the mains and the
// programs and suites that run the whole system.
var wiring = []string{"cmd", "bench", "demo", "e2e", "chaos", "internal/archtest"}

func isAdapter(rel string) bool {
	return strings.HasPrefix(rel, "controlplane/")
}

// adapterOf returns the control-plane package rel belongs to
// ("controlplane/cluster/clustertest" belongs to "controlplane/cluster").
func adapterOf(rel string) string {
	parts := strings.SplitN(rel, "/", 3)
	if len(parts) < 2 {
		return rel
	}
	return parts[0] + "/" + parts[1]
}

// STYLE.md: domain at the root, one package per outside thing below it,
// imports in one direction. An adapter (api, ingest, broker, store, …)
// imports the root and only the adapters adapterEdges allows, so that the
// API and ingest take domain types, not the store's or provisioning's.
func TestAdaptersDependOnTheDomainNotOnEachOther(t *testing.T) {
	g := load(t)
	seen := 0
	for _, p := range g.own {
		rel := g.rel(p.ImportPath)
		if !isAdapter(rel) {
			continue
		}
		seen++
		self := adapterOf(rel)
		for _, d := range p.Imports {
			if !g.inModule(d) {
				continue
			}
			drel := g.rel(d)
			if !isAdapter(drel) || adapterOf(drel) == self {
				continue
			}
			if !slices.Contains(adapterEdges[self], adapterOf(drel)) {
				t.Errorf("%s imports %s: adapters depend on the domain (controlplane), not on each other; wire them in cmd/ or, if this edge is by design, add it to adapterEdges with its reason", rel, drel)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no control-plane adapter found")
	}
}

// Only the mains wire: code outside cmd/ (and the whole-system programs)
// never imports a control-plane adapter. The client, for one, speaks to
// the control plane over HTTP with the domain's types only.
func TestOnlyMainsWireAdapters(t *testing.T) {
	g := load(t)
	for _, p := range g.own {
		rel := g.rel(p.ImportPath)
		if isAdapter(rel) || rel == "controlplane" || slices.ContainsFunc(wiring, func(w string) bool { return under(rel, w) }) {
			continue
		}
		for _, d := range p.Imports {
			if g.inModule(d) && isAdapter(g.rel(d)) {
				t.Errorf("%s imports %s: only cmd/ wires control-plane adapters; outside it use the domain package controlplane", rel, g.rel(d))
			}
		}
	}
}

// The shared test kit is for tests: production code that imports it would
// carry fake clocks and test databases into the binaries.
func TestTestKitOnlyInTests(t *testing.T) {
	g := load(t)
	for _, p := range g.own {
		rel := g.rel(p.ImportPath)
		if under(rel, "internal/testkit") || under(rel, "internal/testpg") || under(rel, "internal/testmail") {
			continue
		}
		for _, d := range p.Imports {
			if g.inModule(d) && (under(g.rel(d), "internal/testkit") || under(g.rel(d), "internal/testpg") || under(g.rel(d), "internal/testmail")) {
				t.Errorf("%s imports %s outside its tests", rel, g.rel(d))
			}
		}
	}
}

// The control plane's client package is what the CLI, the demo, the
// browser test and the benchmarks share; it imports the domain and the
// wire contract only.
func TestClientImportsOnlyTheDomain(t *testing.T) {
	g := load(t)
	found := false
	for _, p := range g.own {
		rel := g.rel(p.ImportPath)
		if !under(rel, "client") {
			continue
		}
		found = true
		for _, d := range p.Deps {
			if !g.inModule(d) {
				continue
			}
			if drel := g.rel(d); drel != "controlplane" && drel != "protocol" && !under(drel, "client") {
				t.Errorf("%s depends on %s: the client may use only controlplane (domain) and protocol", rel, drel)
			}
		}
	}
	if !found {
		t.Fatal("no client package found")
	}
}

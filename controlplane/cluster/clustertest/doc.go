// Package clustertest runs a real Mosquitto broker for tests of the
// control plane's external-broker mode.
package clustertest

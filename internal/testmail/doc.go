// Package testmail runs a real Mailpit SMTP server for tests, on free
// loopback ports with its own database, and reads what it received through
// Mailpit's HTTP API. It is for tests only (internal/archtest enforces it).
//
// The binary is $SITEPULSE_MAILPIT, else mailpit in PATH, else
// ~/go/bin/mailpit, else it is built once with go install into the user's
// cache directory.
package testmail

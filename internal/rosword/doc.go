// Package rosword is the RouterOS API's word-length prefix, encoded and
// decoded in one place for the agent's sentence reader and the simulator's
// server (see ref/routeros-api.md). It stops at lengths: what a word or
// sentence may hold, and how large, is each caller's policy.
package rosword

// Package logfilter holds slog handlers that filter what another handler
// receives: libraries such as River log routine work at info, which would
// drown the control plane's own logs.
package logfilter

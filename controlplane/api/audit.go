package api

import "github.com/sitepulse/sitepulse/controlplane"

// resultOf is the audit result of an operation: "ok" or its error code.
func resultOf(err error) string {
	if err == nil {
		return "ok"
	}
	return controlplane.ErrorCode(err)
}

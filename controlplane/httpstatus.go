package controlplane

import "net/http"

// statusByCode is the one table mapping error codes to HTTP statuses, for
// every HTTP endpoint of the control plane (the REST API, channel
// authorization, the Pusher HTTP API). A code missing here answers 500.
var statusByCode = map[string]int{
	EINVALID:      http.StatusBadRequest,
	EUNAUTHORIZED: http.StatusUnauthorized,
	EFORBIDDEN:    http.StatusForbidden,
	ENOTFOUND:     http.StatusNotFound,
	ECONFLICT:     http.StatusConflict,
	ETOOLARGE:     http.StatusRequestEntityTooLarge,
	ERATELIMIT:    http.StatusTooManyRequests,
	EUNAVAILABLE:  http.StatusServiceUnavailable,
	EINTERNAL:     http.StatusInternalServerError,
}

// HTTPStatus returns the HTTP status an error code answers with: 500 for
// an unknown code.
func HTTPStatus(code string) int {
	if s, ok := statusByCode[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrorCodeOf returns the error code that answers with HTTP status, for
// answers that did not come from an error (the ServeMux's own 404): the
// code HTTPStatus maps to status, EINTERNAL when none does.
func ErrorCodeOf(status int) string {
	for code, s := range statusByCode {
		if s == status {
			return code
		}
	}
	return EINTERNAL
}

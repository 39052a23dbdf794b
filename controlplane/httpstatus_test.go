package controlplane

import (
	"net/http"
	"testing"
)

func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		code string
		want int
	}{
		{EINVALID, http.StatusBadRequest},
		{EUNAUTHORIZED, http.StatusUnauthorized},
		{EFORBIDDEN, http.StatusForbidden},
		{ENOTFOUND, http.StatusNotFound},
		{ECONFLICT, http.StatusConflict},
		{ETOOLARGE, http.StatusRequestEntityTooLarge},
		{ERATELIMIT, http.StatusTooManyRequests},
		{EUNAVAILABLE, http.StatusServiceUnavailable},
		{EINTERNAL, http.StatusInternalServerError},
		{"no_such_code", http.StatusInternalServerError},
		{"", http.StatusInternalServerError},
	}
	for _, tt := range tests {
		if got := HTTPStatus(tt.code); got != tt.want {
			t.Errorf("HTTPStatus(%q) = %d, want %d", tt.code, got, tt.want)
		}
		if tt.code != "" && tt.code != "no_such_code" {
			if back := ErrorCodeOf(tt.want); back != tt.code {
				t.Errorf("ErrorCodeOf(%d) = %q, want %q", tt.want, back, tt.code)
			}
		}
	}
	if got := ErrorCodeOf(http.StatusTeapot); got != EINTERNAL {
		t.Errorf("ErrorCodeOf(418) = %q, want %q", got, EINTERNAL)
	}
}

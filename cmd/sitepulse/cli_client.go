package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// credentials is what `sitepulse login` keeps for the field-tech commands:
// the control plane's URL and a bearer token. The file is 0600 in a 0700
// directory; the token is revocable (sitepulse logout, or the API).
type credentials struct {
	Server    string     `json:"server"`
	Email     string     `json:"email"`
	Token     string     `json:"token"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// defaultCredentialsPath is ~/.config/sitepulse/credentials (the user
// configuration directory of the platform).
func defaultCredentialsPath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return filepath.Join(".sitepulse", "credentials")
	}
	return filepath.Join(dir, "sitepulse", "credentials")
}

func saveCredentials(path string, c credentials) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	// Written whole under another name, then renamed: never a partial or
	// world-readable file, even for a moment.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".credentials-*")
	if err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save credentials: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	return nil
}

func loadCredentials(path string) (credentials, error) {
	var c credentials
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, fmt.Errorf("not logged in: run `sitepulse login` first (no %s)", path)
	}
	if err != nil {
		return c, fmt.Errorf("read credentials: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("read credentials %s: %w", path, err)
	}
	if c.Token == "" || c.Server == "" {
		return c, fmt.Errorf("credentials %s hold no token: run `sitepulse login`", path)
	}
	return c, nil
}

// apiClient calls the REST API with a bearer token.
type apiClient struct {
	server string // e.g. http://127.0.0.1:8080, no trailing slash
	token  string
	http   *http.Client
}

func newAPIClient(server, token string) *apiClient {
	return &apiClient{server: strings.TrimRight(server, "/"), token: token, http: &http.Client{Timeout: 30 * time.Second}}
}

// apiError is an error answer of the API.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// do sends body (JSON, or nil) and decodes a 2xx answer into out (unless
// nil). Error answers become *apiError.
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if res.StatusCode >= 300 {
		var eb controlplane.ErrorBody
		_ = json.Unmarshal(b, &eb)
		e := &apiError{Status: res.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message}
		if res.StatusCode == http.StatusUnauthorized {
			e.Message += "; run `sitepulse login` again"
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// query encodes non-empty values.
func query(kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
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

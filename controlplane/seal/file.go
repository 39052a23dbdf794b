package seal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// EnvKey is the environment variable holding the key (base64 of 32 bytes).
const EnvKey = "SITEPULSE_SECRET_KEY"

// LoadKey returns the key from file when file is set (--secret-key-file),
// else from env (the value of SITEPULSE_SECRET_KEY) when set, else from
// defaultFile, creating it with a random key when missing (the laptop
// default in the data directory). With none of the three set it fails.
func LoadKey(file, env, defaultFile string) (*Key, error) {
	switch {
	case file != "":
		return LoadKeyFile(file)
	case env != "":
		k, err := ParseKey(env)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvKey, err)
		}
		return k, nil
	case defaultFile != "":
		return LoadOrCreateKeyFile(defaultFile)
	}
	return nil, fmt.Errorf("seal: no secret key: set %s or --secret-key-file", EnvKey)
}

// maxKeyFile bounds what is read of a key file (a key is 44 bytes).
const maxKeyFile = 4096

// LoadKeyFile reads a key file holding the key in base64. It refuses a
// file that others (not owner or group) can read or write: the key opens
// every tenant's credentials.
func LoadKeyFile(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("seal: key file %s is not a regular file", path)
	}
	if err := checkPerm(path, st.Mode()); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("seal: key file %s is too large to be a key", path)
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

func checkPerm(path string, mode fs.FileMode) error {
	if runtime.GOOS == "windows" {
		return nil // no Unix permission bits to check
	}
	if mode.Perm()&0o007 != 0 {
		return fmt.Errorf("seal: key file %s has mode %04o: others may access it; chmod 600 it", path, mode.Perm())
	}
	return nil
}

// LoadOrCreateKeyFile loads the key file at path, or, when it does not
// exist, creates it (and its directory) with a new random key, mode 0600.
// Two processes racing to create it end up with the same key.
func LoadOrCreateKeyFile(path string) (*Key, error) {
	k, err := LoadKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	k, text, err := generate()
	if err != nil {
		return nil, err
	}
	// Write to a temporary file and link it into place: the key file
	// appears complete or not at all, and an existing one is never
	// replaced.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".sitepulse-key-*")
	if err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	if _, err := tmp.WriteString(text + "\n"); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return LoadKeyFile(path) // another process won the race
		}
		return nil, fmt.Errorf("seal: key file: %w", err)
	}
	return k, nil
}

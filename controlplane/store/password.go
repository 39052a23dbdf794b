package store

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Password hashes are "pbkdf2-sha256$<iterations>$<salt>$<key>" with salt
// and key in unpadded standard base64, so the work factor can rise without
// invalidating stored hashes.
const (
	passwordScheme = "pbkdf2-sha256"
	saltLen        = 16
	keyLen         = 32
)

func hashPassword(password string, iterations int) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, iterations, keyLen)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	b64 := base64.RawStdEncoding
	return passwordScheme + "$" + strconv.Itoa(iterations) + "$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key), nil
}

// errBadHash reports a stored hash this code cannot read.
var errBadHash = errors.New("malformed password hash")

// checkPasswordHash reports whether password matches encoded, comparing in
// constant time.
func checkPasswordHash(encoded, password string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 || parts[0] != passwordScheme {
		return false, errBadHash
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 {
		return false, errBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[2])
	if err != nil {
		return false, errBadHash
	}
	want, err := b64.DecodeString(parts[3])
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	if err != nil {
		return false, fmt.Errorf("check password: %w", err)
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// secretHash is the stored form of a high-entropy random credential (API
// token, agent secret): hex SHA-256. A slow KDF adds nothing when the input
// has 256 bits of entropy, and a fast hash keeps per-request and
// per-connection checks cheap.
func secretHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// newSecret returns prefix followed by 32 random bytes in unpadded base64url.
func newSecret(prefix string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

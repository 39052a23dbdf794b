package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// KeySize is the size of a key in bytes (AES-256).
const KeySize = 32

// version prefixes every sealed value; a new format gets a new one.
const version = "v1"

// Errors of Open; each is wrapped with detail.
var (
	// ErrMalformed: the text is not a sealed value of a known version.
	ErrMalformed = errors.New("seal: malformed sealed value")
	// ErrWrongKey: the value was sealed under a key this Key or Keyring
	// does not hold.
	ErrWrongKey = errors.New("seal: sealed under another key")
	// ErrAuth: the ciphertext was altered, or the additional data (which
	// tenant, which field) is not the one it was sealed with.
	ErrAuth = errors.New("seal: authentication failed (tampered, or wrong tenant/field)")
)

// Key is one AES-256 key. The zero Key is not usable; build one with
// ParseKey, GenerateKey or the file loaders.
//
// The key bytes are not kept beside the cipher: even a Key dereferenced
// and printed with %v shows a pointer and the id, not the key.
type Key struct {
	aead   cipher.AEAD
	id     string
	derive []byte // HMAC key for Derive, itself derived: never the key
}

// newKey builds a Key from raw bytes.
func newKey(raw []byte) (*Key, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("seal: key must be %d bytes, got %d", KeySize, len(raw))
	}
	k := &Key{}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	// A domain-separated hash: the id says which key, and four bytes of a
	// hash of a random 256-bit key say nothing useful about it.
	sum := sha256.Sum256(append([]byte("sitepulse seal key id\x00"), raw...))
	k.id = hex.EncodeToString(sum[:4])
	d := hmac.New(sha256.New, raw)
	d.Write([]byte("sitepulse seal derive\x00"))
	k.derive = d.Sum(nil)
	return k, nil
}

// Derive returns 32 bytes for purpose, stable for the key and unrelated
// to it and to other purposes (HMAC-SHA256), e.g. the key that signs
// payment callback tokens, so that one secret in the environment serves
// both.
func (k *Key) Derive(purpose string) []byte {
	m := hmac.New(sha256.New, k.derive)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// ParseKey reads a key written as base64 of 32 bytes (standard or URL
// alphabet, padded or not; surrounding space is ignored). The error never
// contains the text.
func ParseKey(s string) (*Key, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("seal: empty key")
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(s); err == nil {
			return newKey(raw)
		}
	}
	return nil, fmt.Errorf("seal: key is not base64 of %d bytes", KeySize)
}

// GenerateKey returns a new random key.
func GenerateKey() (*Key, error) {
	k, _, err := generate()
	return k, err
}

// generate returns a new random key and its base64 text (for the key
// file).
func generate() (*Key, string, error) {
	raw := make([]byte, KeySize)
	if _, err := rand.Read(raw); err != nil {
		return nil, "", fmt.Errorf("seal: %w", err)
	}
	defer clear(raw)
	k, err := newKey(raw)
	if err != nil {
		return nil, "", err
	}
	return k, base64.StdEncoding.EncodeToString(raw), nil
}

// ID is the key's short public identifier (8 hex digits), written in
// every value it seals.
func (k *Key) ID() string { return k.id }

// String shows the key's id, never its bytes.
func (k *Key) String() string {
	if k == nil {
		return "seal.Key(nil)"
	}
	return "seal.Key(" + k.id + ")"
}

// GoString is String, so %#v does not print the bytes either.
func (k *Key) GoString() string { return k.String() }

// LogValue logs the key's id only.
func (k *Key) LogValue() slog.Value {
	if k == nil {
		return slog.StringValue("none")
	}
	return slog.StringValue("key:" + k.id)
}

// Format makes every fmt verb (%x, %s, %v, %+v…) print String, so the key
// bytes cannot reach a log through a formatting verb.
func (k *Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// ad is the GCM additional data: the version and key id (so the header
// cannot be edited) and the caller's binding.
func ad(id, aad string) []byte { return []byte(version + ":" + id + ":" + aad) }

// Seal encrypts plaintext bound to aad (e.g. "tenant:7:mpesa.passkey").
// Each call uses a fresh random nonce, so sealing the same value twice
// gives different text.
func (k *Key) Seal(plaintext []byte, aad string) (string, error) {
	if k == nil || k.aead == nil {
		return "", errors.New("seal: no key")
	}
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	out := k.aead.Seal(nonce, nonce, plaintext, ad(k.id, aad))
	return version + ":" + k.id + ":" + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value Seal produced with the same key and aad. Errors
// wrap ErrMalformed, ErrWrongKey or ErrAuth.
func (k *Key) Open(sealed, aad string) ([]byte, error) {
	if k == nil || k.aead == nil {
		return nil, errors.New("seal: no key")
	}
	id, body, err := parse(sealed)
	if err != nil {
		return nil, err
	}
	if id != k.id {
		return nil, fmt.Errorf("%w: value has key %s, this key is %s", ErrWrongKey, id, k.id)
	}
	return k.open(body, aad)
}

func (k *Key) open(body []byte, aad string) ([]byte, error) {
	ns := k.aead.NonceSize()
	if len(body) < ns+k.aead.Overhead() {
		return nil, fmt.Errorf("%w: too short", ErrMalformed)
	}
	pt, err := k.aead.Open(nil, body[:ns], body[ns:], ad(k.id, aad))
	if err != nil {
		return nil, ErrAuth
	}
	return pt, nil
}

// maxSealed bounds the text Open parses; credentials are short.
const maxSealed = 64 << 10

// parse splits "v1:<id>:<base64>" into the key id and the decoded body.
func parse(sealed string) (id string, body []byte, err error) {
	if len(sealed) > maxSealed {
		return "", nil, fmt.Errorf("%w: over %d bytes", ErrMalformed, maxSealed)
	}
	v, rest, ok := strings.Cut(sealed, ":")
	if !ok || v != version {
		return "", nil, fmt.Errorf("%w: not a %s value", ErrMalformed, version)
	}
	id, b64, ok := strings.Cut(rest, ":")
	if !ok || len(id) != 8 || strings.Trim(id, "0123456789abcdef") != "" {
		return "", nil, fmt.Errorf("%w: bad key id", ErrMalformed)
	}
	body, err = base64.RawURLEncoding.Strict().DecodeString(b64)
	if err != nil {
		return "", nil, fmt.Errorf("%w: bad base64", ErrMalformed)
	}
	return id, body, nil
}

// KeyID returns the id of the key a sealed value was sealed with.
func KeyID(sealed string) (string, error) {
	id, _, err := parse(sealed)
	return id, err
}

// Keyring seals with its current key and opens with any of its keys, for
// key rotation.
type Keyring struct {
	current *Key
	byID    map[string]*Key
}

// NewKeyring returns a keyring sealing with current and opening values
// sealed with current or any of previous. Two keys with the same id are
// refused.
func NewKeyring(current *Key, previous ...*Key) (*Keyring, error) {
	if current == nil {
		return nil, errors.New("seal: keyring needs a current key")
	}
	r := &Keyring{current: current, byID: map[string]*Key{current.id: current}}
	for _, k := range previous {
		if k == nil {
			return nil, errors.New("seal: nil previous key")
		}
		if _, dup := r.byID[k.id]; dup {
			return nil, fmt.Errorf("seal: key %s given twice", k.id)
		}
		r.byID[k.id] = k
	}
	return r, nil
}

// Current is the key new values are sealed with.
func (r *Keyring) Current() *Key { return r.current }

// Seal seals with the current key.
func (r *Keyring) Seal(plaintext []byte, aad string) (string, error) {
	return r.current.Seal(plaintext, aad)
}

// Open opens a value sealed with any key of the ring. Errors wrap
// ErrMalformed, ErrWrongKey or ErrAuth.
func (r *Keyring) Open(sealed, aad string) ([]byte, error) {
	id, body, err := parse(sealed)
	if err != nil {
		return nil, err
	}
	k := r.byID[id]
	if k == nil {
		return nil, fmt.Errorf("%w: value has key %s, the keyring holds %s", ErrWrongKey, id, strings.Join(r.ids(), ", "))
	}
	return k.open(body, aad)
}

// Reseal returns sealed re-sealed under the current key and true when it
// was sealed with a previous key; a value already under the current key
// comes back unchanged with false.
func (r *Keyring) Reseal(sealed, aad string) (string, bool, error) {
	pt, err := r.Open(sealed, aad)
	if err != nil {
		return "", false, err
	}
	if id, _ := KeyID(sealed); id == r.current.id {
		return sealed, false, nil
	}
	out, err := r.current.Seal(pt, aad)
	clear(pt)
	if err != nil {
		return "", false, err
	}
	return out, true, nil
}

func (r *Keyring) ids() []string {
	ids := []string{r.current.id}
	for id := range r.byID {
		if id != r.current.id {
			ids = append(ids, id)
		}
	}
	return ids
}

// String lists the keyring's key ids.
func (r *Keyring) String() string { return "seal.Keyring(" + strings.Join(r.ids(), ",") + ")" }

// Package seal encrypts third-party credentials at rest (a tenant's
// Daraja consumer secret and passkey, webhook secrets): AES-256-GCM from
// the standard library, with a key the operator provides in the
// environment (SITEPULSE_SECRET_KEY, base64 of 32 bytes) or a file
// (--secret-key-file), or, on a laptop, a key created in the data
// directory on first start.
//
// A sealed value is text, safe for a TEXT column:
//
//	v1:<key id>:<base64url of nonce ‖ ciphertext ‖ tag>
//
// The key id is a short hash of the key, so that a value sealed under
// another key is reported as such instead of as corruption. Every value is
// sealed with additional data naming what it is (for example
// "tenant:7:mpesa.consumer_secret"): the same ciphertext copied to another
// tenant's row or another field does not open.
//
// A [Keyring] opens values sealed under previous keys, so keys can be
// rotated: start with the new key current and the old one previous,
// re-seal what [Keyring.Reseal] reports as stale, then drop the old key.
//
// A [Key] never prints its bytes: String, GoString and LogValue show its id
// only.
package seal

package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/sitepulse/sitepulse/internal/testkit"
)

func mustKey(tb testing.TB) *Key {
	tb.Helper()
	k, err := GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

const aad = "tenant:7:mpesa.consumer_secret"

func TestSealOpenRoundTrip(t *testing.T) {
	k := mustKey(t)
	for _, pt := range [][]byte{nil, []byte("x"), []byte("bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"), bytes.Repeat([]byte{0}, 4096)} {
		s, err := k.Seal(pt, aad)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(s, "v1:"+k.ID()+":") {
			t.Fatalf("sealed %q: want prefix v1:%s:", s, k.ID())
		}
		if len(pt) > 8 && strings.Contains(s, string(pt)) {
			t.Fatal("plaintext visible in the sealed text")
		}
		got, err := k.Open(s, aad)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("got %q, want %q", got, pt)
		}
	}
	a, _ := k.Seal([]byte("same"), aad)
	b, _ := k.Seal([]byte("same"), aad)
	if a == b {
		t.Fatal("two seals of the same value are equal: nonce reused")
	}
}

func TestOpenRefuses(t *testing.T) {
	k, other := mustKey(t), mustKey(t)
	s, err := k.Seal([]byte("a secret credential value"), aad)
	if err != nil {
		t.Fatal(err)
	}
	prefix, body, _ := strings.Cut(s[3:], ":")
	raw, _ := base64.RawURLEncoding.DecodeString(body)
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 1
		return "v1:" + prefix + ":" + base64.RawURLEncoding.EncodeToString(b)
	}
	cases := []struct {
		name   string
		key    *Key
		sealed string
		aad    string
		want   error
	}{
		{"wrong aad tenant", k, s, "tenant:8:mpesa.consumer_secret", ErrAuth},
		{"wrong aad field", k, s, "tenant:7:mpesa.passkey", ErrAuth},
		{"wrong key", other, s, aad, ErrWrongKey},
		{"tampered ciphertext", k, flip(len(raw) - 20), aad, ErrAuth},
		{"tampered nonce", k, flip(0), aad, ErrAuth},
		{"tampered tag", k, flip(len(raw) - 1), aad, ErrAuth},
		{"truncated", k, "v1:" + prefix + ":" + base64.RawURLEncoding.EncodeToString(raw[:len(raw)-5]), aad, ErrAuth},
		{"too short", k, "v1:" + k.ID() + ":AAAA", aad, ErrMalformed},
		{"edited key id", k, "v1:" + other.ID() + ":" + body, aad, ErrWrongKey},
		{"unknown version", k, "v2" + s[2:], aad, ErrMalformed},
		{"no separators", k, "garbage", aad, ErrMalformed},
		{"bad base64", k, "v1:" + k.ID() + ":***", aad, ErrMalformed},
		{"empty", k, "", aad, ErrMalformed},
		{"uppercase id", k, "v1:" + strings.ToUpper(k.ID()) + "X:" + body, aad, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pt, err := c.key.Open(c.sealed, c.aad)
			if !errors.Is(err, c.want) {
				t.Fatalf("Open: got %v (%q), want %v", err, pt, c.want)
			}
			if pt != nil {
				t.Fatalf("Open returned plaintext %q with an error", pt)
			}
		})
	}
}

func TestKeyNeverPrintsItsBytes(t *testing.T) {
	const b64 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // "0123456789abcdef0123456789abcdef"
	k, err := ParseKey(b64)
	if err != nil {
		t.Fatal(err)
	}
	var logs testkit.LogBuffer
	logs.Logger().Info("loaded", "key", k, slog.Any("k2", k))
	outs := []string{k.String(), k.GoString(), fmt.Sprintf("%v %+v %#v %s %x %q", k, k, k, k, k, k), logs.String(), fmt.Sprint(*k)}
	ring, _ := NewKeyring(k)
	outs = append(outs, ring.String(), fmt.Sprintf("%+v", ring))
	for _, out := range outs {
		for _, leak := range []string{b64, "0123456789abcdef", "30313233", "48 49 50 51"} {
			if strings.Contains(out, leak) {
				t.Fatalf("output %q reveals the key", out)
			}
		}
	}
	if !strings.Contains(k.String(), k.ID()) || !logs.Contains(k.ID()) {
		t.Fatalf("String %q / log %q should name the key id", k.String(), logs.String())
	}
}

func TestParseKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfb, 0xff, 0x3e}, 11)[:KeySize] // base64 with + and / (or - and _)
	k, err := newKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		p, err := ParseKey("  " + enc.EncodeToString(raw) + "\n")
		if err != nil || p.ID() != k.ID() {
			t.Fatalf("ParseKey: %v, id %v, want %s", err, p, k.ID())
		}
	}
	for _, bad := range []string{"", "   ", "not base64!", base64.StdEncoding.EncodeToString(raw[:16]), base64.StdEncoding.EncodeToString(append(raw, 1))} {
		if _, err := ParseKey(bad); err == nil {
			t.Fatalf("ParseKey(%q) accepted", bad)
		} else if len(bad) > 8 && strings.Contains(err.Error(), bad) {
			t.Fatalf("error %q repeats the key text", err)
		}
	}
}

func TestKeyringRotation(t *testing.T) {
	old, cur := mustKey(t), mustKey(t)
	sOld, _ := old.Seal([]byte("old secret"), aad)
	ring, err := NewKeyring(cur, old)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ring.Open(sOld, aad); err != nil || string(got) != "old secret" {
		t.Fatalf("Open old value: %q, %v", got, err)
	}
	sNew, _ := ring.Seal([]byte("new secret"), aad)
	if id, _ := KeyID(sNew); id != cur.ID() {
		t.Fatalf("keyring sealed with %s, want current %s", id, cur.ID())
	}
	re, changed, err := ring.Reseal(sOld, aad)
	if err != nil || !changed {
		t.Fatalf("Reseal old: changed %v, %v", changed, err)
	}
	if id, _ := KeyID(re); id != cur.ID() {
		t.Fatalf("resealed under %s, want %s", id, cur.ID())
	}
	if same, changed, err := ring.Reseal(sNew, aad); err != nil || changed || same != sNew {
		t.Fatalf("Reseal current: changed %v, %v", changed, err)
	}
	if _, _, err := ring.Reseal(sOld, "tenant:9:x"); !errors.Is(err, ErrAuth) {
		t.Fatalf("Reseal with wrong aad: %v, want ErrAuth", err)
	}
	// Once the old key is dropped, the re-sealed value opens and the
	// original does not.
	only, _ := NewKeyring(cur)
	if got, err := only.Open(re, aad); err != nil || string(got) != "old secret" {
		t.Fatalf("Open resealed: %q, %v", got, err)
	}
	if _, err := only.Open(sOld, aad); !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), old.ID()) {
		t.Fatalf("Open old value without old key: %v, want ErrWrongKey naming %s", err, old.ID())
	}
	if _, err := NewKeyring(cur, cur); err == nil {
		t.Fatal("duplicate key accepted")
	}
	if _, err := NewKeyring(nil); err == nil {
		t.Fatal("nil current key accepted")
	}
}

func TestKeyFiles(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "data", "secret.key")

	k, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("created key file mode %04o, want 0600", st.Mode().Perm())
	}
	again, err := LoadOrCreateKeyFile(path)
	if err != nil || again.ID() != k.ID() {
		t.Fatalf("second load: %v, %v; want the same key %s", again, err, k.ID())
	}
	s, _ := k.Seal([]byte("v"), aad)
	if _, err := again.Open(s, aad); err != nil {
		t.Fatalf("reloaded key does not open: %v", err)
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, load := range map[string]func(string) (*Key, error){"LoadKeyFile": LoadKeyFile, "LoadOrCreateKeyFile": LoadOrCreateKeyFile} {
		if _, err := load(path); err == nil || !strings.Contains(err.Error(), "others") {
			t.Fatalf("%s of a 0644 file: %v, want a refusal", name, err)
		}
	}
	if err := os.Chmod(path, 0o640); err != nil { // group-readable, as secret mounts often are
		t.Fatal(err)
	}
	if _, err := LoadKeyFile(path); err != nil {
		t.Fatalf("0640 file: %v", err)
	}

	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("short\n"), 0o600)
	if _, err := LoadKeyFile(bad); err == nil {
		t.Fatal("bad key file accepted")
	}
	if _, err := LoadKeyFile(dir); err == nil {
		t.Fatal("directory accepted as a key file")
	}
	if _, err := LoadKeyFile(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestLoadOrCreateRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, err := LoadOrCreateKeyFile(path)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = k.ID()
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("racing creators got different keys: %v", ids)
		}
	}
}

func TestLoadKeyOrder(t *testing.T) {
	dir := t.TempDir()
	fileKey, _ := LoadOrCreateKeyFile(filepath.Join(dir, "file.key"))
	envKey, env, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	def := filepath.Join(dir, "default.key")

	if k, err := LoadKey(filepath.Join(dir, "file.key"), env, def); err != nil || k.ID() != fileKey.ID() {
		t.Fatalf("file given: %v %v, want the file's key", k, err)
	}
	if k, err := LoadKey("", env, def); err != nil || k.ID() != envKey.ID() {
		t.Fatalf("env given: %v %v, want the env key", k, err)
	}
	if _, err := os.Stat(def); err == nil {
		t.Fatal("default file created although a key was given")
	}
	if k, err := LoadKey("", "", def); err != nil || k == nil {
		t.Fatalf("default: %v", err)
	}
	if _, err := LoadKey("", "", ""); err == nil {
		t.Fatal("no source accepted")
	}
	if _, err := LoadKey("", "bad", def); err == nil || !strings.Contains(err.Error(), EnvKey) {
		t.Fatalf("bad env key: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	k, err := ParseKey("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	if err != nil {
		f.Fatal(err)
	}
	for _, pt := range []string{"", "secret", "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"} {
		s, _ := k.Seal([]byte(pt), aad)
		f.Add(s, aad)
		f.Add(s, "tenant:8:x")
	}
	f.Add("v1:00000000:", "")
	f.Add("v1::", "")
	f.Add("v1:"+k.ID()+":"+strings.Repeat("A", 100), aad)
	ring, _ := NewKeyring(k, mustKey(f))
	f.Fuzz(func(t *testing.T, sealed, a string) {
		pt, err := k.Open(sealed, a)
		pt2, err2 := ring.Open(sealed, a)
		if (err == nil) != (err2 == nil) || !bytes.Equal(pt, pt2) {
			t.Fatalf("key and keyring disagree: %v / %v", err, err2)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrWrongKey) && !errors.Is(err, ErrAuth) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		// Something opened: it must still be bound to its aad.
		if _, err := k.Open(sealed, a+"x"); err == nil {
			t.Fatal("opened with another aad")
		}
	})
}

func TestDeriveIsStablePerKeyAndPurpose(t *testing.T) {
	k1, _ := GenerateKey()
	k2, _ := GenerateKey()
	a, b := k1.Derive("callbacks"), k1.Derive("callbacks")
	if len(a) != 32 || string(a) != string(b) {
		t.Fatalf("Derive not stable: %x %x", a, b)
	}
	if string(a) == string(k1.Derive("other")) || string(a) == string(k2.Derive("callbacks")) {
		t.Fatal("Derive does not separate purposes or keys")
	}
}

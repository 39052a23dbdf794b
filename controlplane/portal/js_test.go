package portal

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestScriptMD5AndCHAP runs the page's script in Node with a stub DOM and
// checks its MD5 against crypto/md5, over bytes RouterOS's octal-escaped
// chap-id and chap-challenge decode to (0..255) and lengths around the
// block boundaries, and the CHAP response as the router computes it.
func TestScriptMD5AndCHAP(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	var inputs []string
	for _, n := range []int{0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 200} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*37 + n)
		}
		inputs = append(inputs, string(b))
	}
	inputs = append(inputs, "\x09"+"GOODCODE1"+"\x53\x25\xff\x00\x80", "The quick brown fox jumps over the lazy dog")
	// JSON carries each byte as the code point of the same value, as
	// the script's strings hold them after unoctal.
	runes := make([][]int, len(inputs))
	for i, s := range inputs {
		for j := 0; j < len(s); j++ {
			runes[i] = append(runes[i], int(s[j]))
		}
	}
	in, _ := json.Marshal(runes)
	prog := `
global.document = { getElementById: (id) => id === 'cfg' ? { textContent: '{}' } : null };
global.window = {};
global.location = { protocol: 'http:', host: 'x' };
require(` + jsString(filepath.Join(mustAbs(t, "assets"), "portal.js")) + `);
const inputs = ` + string(in) + `;
console.log(JSON.stringify(inputs.map((cs) => window.spMD5(String.fromCharCode(...(cs || [])))).concat([window.spCHAP('\\011', 'GOODCODE1', '\\123\\045\\377')])));
`
	dir := t.TempDir()
	script := filepath.Join(dir, "md5.cjs")
	if err := os.WriteFile(script, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, script).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got []string
	if err := json.Unmarshal([]byte(strings.TrimSpace(string(out))), &got); err != nil {
		t.Fatalf("node printed %s", out)
	}
	chap := md5.Sum([]byte("\x09GOODCODE1\x53\x25\xff"))
	if want := hex.EncodeToString(chap[:]); got[len(inputs)] != want {
		t.Errorf("CHAP response = %s, want %s", got[len(inputs)], want)
	}
	for i, s := range inputs {
		sum := md5.Sum([]byte(s))
		if want := hex.EncodeToString(sum[:]); got[i] != want {
			t.Errorf("md5 of %d bytes = %s, want %s", len(s), got[i], want)
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

package sim

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sitepulse/sitepulse/internal/rosword"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestLengthVectors checks the five encodings from the RouterOS manual and
// the boundaries between them, against testdata/lengths.txt.
func TestLengthVectors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "lengths.txt"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lenHex, wantHex, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		var length int
		for _, c := range strings.TrimPrefix(lenHex, "0x") {
			length = length<<4 | int(strings.IndexRune("0123456789abcdef", c|0x20))
		}
		want, err := hex.DecodeString(strings.ReplaceAll(wantHex, " ", ""))
		if err != nil {
			t.Fatalf("bad hex in %q: %v", line, err)
		}
		t.Run(lenHex, func(t *testing.T) {
			if got := rosword.AppendLength(nil, length); !bytes.Equal(got, want) {
				t.Errorf("encode %#x: got % X, want % X", length, got, want)
			}
			got, err := readLength(bufio.NewReader(bytes.NewReader(want)))
			if err != nil || int(got) != length {
				t.Errorf("decode % X: got %#x, %v; want %#x", want, got, err, length)
			}
		})
		n++
	}
	if n < 13 {
		t.Fatalf("only %d vectors in lengths.txt", n)
	}
}

// goldenSentences are encoded to testdata/sentences/NAME.hex; with -update
// the files are rewritten, otherwise both directions are checked.
var goldenSentences = map[string][]string{
	"login":        {"/login", "=name=admin", "=password=secret"},
	"done":         {"!done"},
	"print-query":  {"/ip/hotspot/active/print", "=.proplist=.id,user,bytes-in", "?server=hotspot1", "?-blocked", "?#|!", ".tag=7"},
	"trap":         {"!trap", "=category=2", "=message=interrupted", ".tag=l1"},
	"re-empty-val": {"!re", "=.id=*80000001", "=encoding=", "=session-id=0x81A0000C"},
	"long-word":    {"!re", "=comment=" + strings.Repeat("x", 0x87-9), "=name=" + strings.Repeat("y", 0x4321-6)},
}

func TestGoldenSentences(t *testing.T) {
	for name, words := range goldenSentences {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", "sentences", name+".hex")
			enc := appendSentence(nil, words...)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(hexDump(enc)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want, err := hex.DecodeString(strings.Join(strings.Fields(string(raw)), ""))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(enc, want) {
				t.Errorf("encode: got\n%s\nwant\n%s", hexDump(enc), hexDump(want))
			}
			got, err := readSentence(bufio.NewReader(bytes.NewReader(want)))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, words) {
				t.Errorf("decode: got %q, want %q", got, words)
			}
		})
	}
}

func hexDump(b []byte) string {
	var sb strings.Builder
	for i := 0; i < len(b); i += 16 {
		sb.WriteString(hex.EncodeToString(b[i:min(i+16, len(b))]))
		sb.WriteByte('\n')
	}
	return sb.String()
}

func TestRoundTripAllRanges(t *testing.T) {
	for _, n := range []int{0, 1, 0x7F, 0x80, 0x3FFF, 0x4000, 0x1FFFFF - 1} {
		w := strings.Repeat("a", n)
		if n == 0 {
			continue // a zero-length word is the terminator
		}
		enc := appendSentence(nil, "!re", "="+w)
		got, err := readSentence(bufio.NewReader(bytes.NewReader(enc)))
		if err != nil {
			t.Fatalf("len %#x: %v", n, err)
		}
		if len(got) != 2 || got[1] != "="+w {
			t.Fatalf("len %#x: round trip mismatch", n)
		}
	}
}

func TestReadSentenceErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"eof", nil, io.EOF},
		{"truncated word", []byte{0x05, 'a', 'b'}, io.ErrUnexpectedEOF},
		{"truncated length", []byte{0xC0, 0x01}, io.ErrUnexpectedEOF},
		{"missing terminator", []byte{0x01, 'a'}, io.ErrUnexpectedEOF},
		{"reserved byte", []byte{0xF8}, errProtocol},
		{"oversized word", []byte{0xF0, 0x7F, 0xFF, 0xFF, 0xFF}, errProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readSentence(bufio.NewReader(bytes.NewReader(tt.in)))
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestEmptySentencesSkipped(t *testing.T) {
	in := append([]byte{0, 0}, appendSentence(nil, "/quit")...)
	got, err := readSentence(bufio.NewReader(bytes.NewReader(in)))
	if err != nil || !slices.Equal(got, []string{"/quit"}) {
		t.Fatalf("got %q, %v", got, err)
	}
}

func FuzzReadSentence(f *testing.F) {
	f.Add(appendSentence(nil, "/login", "=name=admin", "=password="))
	f.Add([]byte{0x80, 0x87})
	f.Add([]byte{0xF0, 0x10, 0x00, 0x00, 0x80})
	f.Add([]byte{0xE0, 0x2A, 0xCD, 0xEF})
	f.Add([]byte{0, 0, 0xFF})
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		for {
			words, err := readSentence(br)
			if err != nil {
				return
			}
			if len(words) == 0 {
				t.Fatal("empty sentence returned")
			}
			// Whatever decodes must re-encode and decode to the same words.
			again, err := readSentence(bufio.NewReader(bytes.NewReader(appendSentence(nil, words...))))
			if err != nil || !slices.Equal(again, words) {
				t.Fatalf("re-decode: %q vs %q, %v", again, words, err)
			}
		}
	})
}

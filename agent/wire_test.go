package agent

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"strings"
	"testing"

	"github.com/sitepulse/sitepulse/internal/rosword"
)

func TestWordLengthVectors(t *testing.T) {
	// Vectors from ref/routeros-api.md.
	tests := []struct {
		n    int
		want []byte
	}{
		{1, []byte{0x01}},
		{0x87, []byte{0x80, 0x87}},
		{0x4321, []byte{0xC0, 0x43, 0x21}},
		{0x2ACDEF, []byte{0xE0, 0x2A, 0xCD, 0xEF}},
		{0x10000080, []byte{0xF0, 0x10, 0x00, 0x00, 0x80}},
	}
	for _, tt := range tests {
		if got := rosword.AppendLength(nil, tt.n); !bytes.Equal(got, tt.want) {
			t.Errorf("AppendLength(%#x) = % x, want % x", tt.n, got, tt.want)
		}
		r := newWireReader(bytes.NewReader(tt.want))
		got, err := r.readLength()
		if tt.n > maxWordLen {
			if !errors.Is(err, errWordTooLong) {
				t.Errorf("readLength(% x) err = %v, want errWordTooLong", tt.want, err)
			}
			continue
		}
		if err != nil || got != tt.n {
			t.Errorf("readLength(% x) = %#x, %v; want %#x", tt.want, got, err, tt.n)
		}
	}
}

func TestReadSentence(t *testing.T) {
	long := strings.Repeat("x", 300)
	var buf bytes.Buffer
	buf.Write([]byte{0}) // an empty sentence is skipped
	buf.Write(encodeSentence("!re", "=.id=*1", "=user=a=b", "=empty=", ".tag=hl", "=long="+long, "junk"))
	buf.Write(encodeSentence("!done", ".tag=hl"))
	r := newWireReader(&buf)
	s, err := r.readSentence()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{".id": "*1", "user": "a=b", "empty": "", "long": long}
	if s.word != "!re" || s.tag != "hl" || !maps.Equal(s.attrs, want) {
		t.Fatalf("got %q tag %q %v, want !re tag hl %v", s.word, s.tag, s.attrs, want)
	}
	s, err = r.readSentence()
	if err != nil || s.word != "!done" {
		t.Fatalf("second sentence = %+v, %v; want !done", s, err)
	}
	if _, err := r.readSentence(); !errors.Is(err, io.EOF) {
		t.Fatalf("at end err = %v, want EOF", err)
	}
	// A sentence cut short is an unexpected EOF, not a clean end.
	b := encodeSentence("!re", "=a=b")
	if _, err := newWireReader(bytes.NewReader(b[:len(b)-3])).readSentence(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated sentence err = %v, want ErrUnexpectedEOF", err)
	}
	if _, err := newWireReader(bytes.NewReader([]byte{0xF8})).readSentence(); err == nil {
		t.Fatal("control byte accepted as a length")
	}
}

func FuzzReadSentence(f *testing.F) {
	f.Add(encodeSentence("!re", "=.id=*1", ".tag=x"))
	f.Add([]byte{0xF0, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := newWireReader(bytes.NewReader(b))
		for range 64 {
			s, err := r.readSentence()
			if err != nil {
				return
			}
			// Whatever was read re-encodes to something that reads back the
			// same.
			words := []string{s.word}
			for k, v := range s.attrs {
				words = append(words, "="+k+"="+v)
			}
			if s.tag != "" {
				words = append(words, ".tag="+s.tag)
			}
			back, err := newWireReader(bytes.NewReader(encodeSentence(words...))).readSentence()
			if err != nil {
				t.Fatalf("re-read: %v", err)
			}
			if !strings.HasPrefix(s.word, "=") && !strings.HasPrefix(s.word, ".tag=") && (back.word != s.word || back.tag != s.tag || !maps.Equal(back.attrs, s.attrs)) {
				t.Fatalf("round trip %+v != %+v", back, s)
			}
		}
	})
}

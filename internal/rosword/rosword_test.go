package rosword

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// The vectors of ref/routeros-api.md, and each range's boundaries.
func TestLengthRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		n    uint32
		want []byte
	}{
		{1, []byte{0x01}},
		{0x7F, []byte{0x7F}},
		{0x80, []byte{0x80, 0x80}},
		{0x87, []byte{0x80, 0x87}},
		{0x3FFF, []byte{0xBF, 0xFF}},
		{0x4000, []byte{0xC0, 0x40, 0x00}},
		{0x4321, []byte{0xC0, 0x43, 0x21}},
		{0x1FFFFF, []byte{0xDF, 0xFF, 0xFF}},
		{0x200000, []byte{0xE0, 0x20, 0x00, 0x00}},
		{0x2ACDEF, []byte{0xE0, 0x2A, 0xCD, 0xEF}},
		{0xFFFFFFF, []byte{0xEF, 0xFF, 0xFF, 0xFF}},
		{0x10000000, []byte{0xF0, 0x10, 0x00, 0x00, 0x00}},
		{0x10000080, []byte{0xF0, 0x10, 0x00, 0x00, 0x80}},
	} {
		if got := AppendLength(nil, int(tt.n)); !bytes.Equal(got, tt.want) {
			t.Errorf("AppendLength(%#x) = % x, want % x", tt.n, got, tt.want)
		}
		got, err := ReadLength(bytes.NewReader(tt.want))
		if err != nil || got != tt.n {
			t.Errorf("ReadLength(% x) = %#x, %v; want %#x", tt.want, got, err, tt.n)
		}
	}
}

func TestReadLengthErrors(t *testing.T) {
	if _, err := ReadLength(bytes.NewReader(nil)); err != io.EOF {
		t.Errorf("empty input: got %v, want io.EOF", err)
	}
	if _, err := ReadLength(bytes.NewReader([]byte{0xC0, 0x43})); err != io.ErrUnexpectedEOF {
		t.Errorf("truncated prefix: got %v, want io.ErrUnexpectedEOF", err)
	}
	// The largest prefix does not fit a 32-bit int; it must come back intact.
	if n, err := ReadLength(bytes.NewReader([]byte{0xF0, 0xFF, 0xFF, 0xFF, 0xFF})); err != nil || n != 0xFFFFFFFF {
		t.Errorf("0xF0 FF FF FF FF: got %#x, %v; want 0xffffffff", n, err)
	}
	for _, c := range []byte{0xF1, 0xF8, 0xFF} {
		if _, err := ReadLength(bytes.NewReader([]byte{c})); !errors.Is(err, ErrReservedLength) {
			t.Errorf("control byte %#x: got %v, want ErrReservedLength", c, err)
		}
	}
}

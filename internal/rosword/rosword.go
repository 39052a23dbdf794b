package rosword

import (
	"errors"
	"fmt"
	"io"
)

// ErrReservedLength reports a control byte (0xF1..0xFF) where a length
// prefix was expected: RouterOS reserves them, so the stream is corrupt.
var ErrReservedLength = errors.New("reserved length byte")

// AppendLength appends the length prefix of a word of n bytes.
func AppendLength(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n < 0x4000:
		return append(b, byte(n>>8)|0x80, byte(n))
	case n < 0x200000:
		return append(b, byte(n>>16)|0xC0, byte(n>>8), byte(n))
	case n < 0x10000000:
		return append(b, byte(n>>24)|0xE0, byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(b, 0xF0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// ReadLength reads one length prefix. An EOF before its first byte is
// io.EOF (a clean end); inside it, io.ErrUnexpectedEOF. The length is
// unsigned and 32 bits wide: callers check it against their own bound
// before converting, since it need not fit an int on 32-bit platforms.
func ReadLength(r io.ByteReader) (uint32, error) {
	c, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	var extra int
	var n uint32
	switch {
	case c&0x80 == 0:
		return uint32(c), nil
	case c&0xC0 == 0x80:
		extra, n = 1, uint32(c&0x3F)
	case c&0xE0 == 0xC0:
		extra, n = 2, uint32(c&0x1F)
	case c&0xF0 == 0xE0:
		extra, n = 3, uint32(c&0x0F)
	case c == 0xF0:
		extra = 4
	default:
		return 0, fmt.Errorf("%w 0x%02X", ErrReservedLength, c)
	}
	for range extra {
		c, err := r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		n = n<<8 | uint32(c)
	}
	return n, nil
}

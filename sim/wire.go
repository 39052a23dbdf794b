package sim

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// maxWordLen bounds a single word read from a client. Real RouterOS accepts
// large words but nothing SitePulse sends comes near this; a hostile length
// prefix must not make the simulator allocate gigabytes.
const maxWordLen = 4 << 20

// maxSentenceWords bounds the number of words in one sentence for the same reason.
const maxSentenceWords = 4096

// errProtocol marks a malformed byte stream; the server answers it with !fatal.
var errProtocol = errors.New("protocol violation")

// appendLength appends the RouterOS length prefix for a word of n bytes.
func appendLength(b []byte, n int) []byte {
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

// appendWord appends one length-prefixed word.
func appendWord(b []byte, w string) []byte {
	b = appendLength(b, len(w))
	return append(b, w...)
}

// appendSentence appends the words followed by the zero-length terminator.
func appendSentence(b []byte, words ...string) []byte {
	for _, w := range words {
		b = appendWord(b, w)
	}
	return append(b, 0)
}

// readLength reads one length prefix. Control bytes 0xF8..0xFF are reserved
// by the protocol and rejected.
func readLength(r io.ByteReader) (int, error) {
	c, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	var extra int
	var n uint32
	switch {
	case c&0x80 == 0:
		return int(c), nil
	case c&0xC0 == 0x80:
		extra, n = 1, uint32(c&0x3F)
	case c&0xE0 == 0xC0:
		extra, n = 2, uint32(c&0x1F)
	case c&0xF0 == 0xE0:
		extra, n = 3, uint32(c&0x0F)
	case c == 0xF0:
		extra, n = 4, 0
	default:
		return 0, fmt.Errorf("%w: reserved length byte 0x%02X", errProtocol, c)
	}
	for range extra {
		c, err := r.ReadByte()
		if err != nil {
			return 0, unexpectedEOF(err)
		}
		n = n<<8 | uint32(c)
	}
	return int(n), nil
}

// readWord reads one word; a zero-length word returns "" and no error.
func readWord(r *bufio.Reader) (string, error) {
	n, err := readLength(r)
	if err != nil {
		return "", err
	}
	if n > maxWordLen {
		return "", fmt.Errorf("%w: word of %d bytes exceeds %d", errProtocol, n, maxWordLen)
	}
	if n == 0 {
		return "", nil
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", unexpectedEOF(err)
	}
	return string(buf), nil
}

// readSentence reads words up to the terminating zero-length word. Empty
// sentences (a bare terminator) are skipped, as the protocol says to ignore them.
func readSentence(r *bufio.Reader) ([]string, error) {
	var words []string
	for {
		w, err := readWord(r)
		if err != nil {
			if len(words) > 0 {
				err = unexpectedEOF(err)
			}
			return nil, err
		}
		if w == "" {
			if len(words) == 0 {
				continue
			}
			return words, nil
		}
		if len(words) >= maxSentenceWords {
			return nil, fmt.Errorf("%w: more than %d words in a sentence", errProtocol, maxSentenceWords)
		}
		words = append(words, w)
	}
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

package sim

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/sitepulse/sitepulse/internal/rosword"
)

// maxWordLen bounds a single word read from a client. Real RouterOS accepts
// large words but nothing SitePulse sends comes near this; a hostile length
// prefix must not make the simulator allocate gigabytes.
const maxWordLen = 4 << 20

// maxSentenceWords bounds the number of words in one sentence for the same reason.
const maxSentenceWords = 4096

// errProtocol marks a malformed byte stream; the server answers it with !fatal.
var errProtocol = errors.New("protocol violation")

// appendWord appends one length-prefixed word.
func appendWord(b []byte, w string) []byte {
	b = rosword.AppendLength(b, len(w))
	return append(b, w...)
}

// appendSentence appends the words followed by the zero-length terminator.
func appendSentence(b []byte, words ...string) []byte {
	for _, w := range words {
		b = appendWord(b, w)
	}
	return append(b, 0)
}

// readLength reads one length prefix; a reserved control byte is a
// protocol violation.
func readLength(r io.ByteReader) (uint32, error) {
	n, err := rosword.ReadLength(r)
	if errors.Is(err, rosword.ErrReservedLength) {
		return 0, fmt.Errorf("%w: %w", errProtocol, err)
	}
	return n, err
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
	buf := make([]byte, int(n))
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

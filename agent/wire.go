package agent

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sitepulse/sitepulse/internal/rosword"
)

// The stream connection (listens, interval prints, snapshot prints) is read
// by this small sentence reader instead of go-routeros' async client: that
// client's tag counter is an int64 at offset 28 of Client on 32-bit ARM, so
// its first atomic add panics there; it can lose replies that arrive before
// a tag is registered; and its reader spawns a goroutine per Read. One
// goroutine reading sentences in wire order and dispatching them by tag has
// none of those problems. go-routeros still does the login and the
// synchronous command connection, where none of the faults apply.

// maxWordLen bounds one API word; RouterOS words are short, and a corrupt
// length must not make the agent allocate gigabytes.
const maxWordLen = 1 << 20

// maxSentenceWords bounds the words of one sentence for the same reason.
const maxSentenceWords = 4096

// errWordTooLong reports a word over maxWordLen.
var errWordTooLong = errors.New("routeros: word too long")

// sentence is one API reply: its reply word (!re, !done, !trap, !fatal,
// !empty), its .tag and its =key=value attributes.
type sentence struct {
	word  string
	tag   string
	attrs map[string]string
}

type wireReader struct {
	br  *bufio.Reader
	buf []byte // scratch for one word; each word is copied out as a string
}

func newWireReader(r io.Reader) *wireReader {
	return &wireReader{br: bufio.NewReaderSize(r, 32<<10)}
}

// readLength decodes a word length and enforces maxWordLen.
func (r *wireReader) readLength() (int, error) {
	n, err := rosword.ReadLength(r.br)
	if errors.Is(err, rosword.ErrReservedLength) {
		return 0, fmt.Errorf("routeros: %w where a length was expected", err)
	}
	if err != nil {
		return 0, err
	}
	if n > maxWordLen {
		return 0, fmt.Errorf("%w: %d bytes", errWordTooLong, n)
	}
	return int(n), nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readSentence reads the next non-empty sentence. Words it does not
// understand (neither reply word, tag nor attribute) are ignored, as the
// API manual asks of clients.
func (r *wireReader) readSentence() (*sentence, error) {
	for {
		s := &sentence{attrs: map[string]string{}}
		words := 0
		for {
			n, err := r.readLength()
			if err != nil {
				if words > 0 {
					err = noEOF(err)
				}
				return nil, err
			}
			if n == 0 {
				break
			}
			words++
			if words > maxSentenceWords {
				return nil, fmt.Errorf("routeros: sentence longer than %d words", maxSentenceWords)
			}
			if cap(r.buf) < n {
				r.buf = make([]byte, max(n, 256))
			}
			buf := r.buf[:n]
			if _, err := io.ReadFull(r.br, buf); err != nil {
				return nil, noEOF(err)
			}
			w := string(buf)
			switch {
			case words == 1:
				s.word = w
			case strings.HasPrefix(w, ".tag="):
				s.tag = w[len(".tag="):]
			case strings.HasPrefix(w, "="):
				k, v, _ := strings.Cut(w[1:], "=")
				s.attrs[k] = v
			}
		}
		if words > 0 {
			return s, nil
		}
	}
}

// encodeSentence encodes words as one sentence, so that it can be written
// with a single Write.
func encodeSentence(words ...string) []byte {
	var b []byte
	for _, w := range words {
		b = rosword.AppendLength(b, len(w))
		b = append(b, w...)
	}
	return append(b, 0)
}

package pusher

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// batchConn wraps the hijacked TCP connection under a websocket.Conn so that
// the writer goroutine can coalesce: between begin and flush, the frames
// gorilla/websocket writes (one Write per message) are appended to a buffer,
// and flush hands the whole batch to the kernel in one write. Outside a batch
// it writes through, so the handshake and the control frames gorilla writes
// from the reader goroutine (pong, close reply) are not delayed.
//
// The batch buffer comes from a pool and goes back after each flush, so an
// idle connection holds none.
type batchConn struct {
	net.Conn

	mu       sync.Mutex
	batching bool
	buf      *[]byte // nil outside a batch that has written something
}

// Buffer sizes of a connection: gorilla's read buffer (client frames are
// small; bigger ones take several reads) and its pooled write buffer.
const (
	readBufferSize  = 1024
	writeBufferSize = 4096
)

// writeBufferPool lends gorilla its write buffers for the duration of one
// message.
var writeBufferPool = &sync.Pool{}

// maxPooledBatchBuffer bounds the batch buffers put back in the pool, so
// one burst does not pin a large allocation.
const maxPooledBatchBuffer = 64 << 10

var batchBufferPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Write appends to the batch while one is open, else writes through.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	if b.batching {
		if b.buf == nil {
			b.buf = batchBufferPool.Get().(*[]byte)
		}
		*b.buf = append(*b.buf, p...)
		b.mu.Unlock()
		return len(p), nil
	}
	b.mu.Unlock()
	return b.Conn.Write(p)
}

// SetWriteDeadline is ignored inside a batch (flush sets its own deadline)
// and otherwise waits for a running flush, so gorilla's write-through of a
// control frame cannot shorten or lift the deadline of a batch in flight.
func (b *batchConn) SetWriteDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.batching {
		return nil
	}
	return b.Conn.SetWriteDeadline(t)
}

// begin opens a batch.
func (b *batchConn) begin() {
	b.mu.Lock()
	b.batching = true
	b.mu.Unlock()
}

// flush closes the batch and writes it with the given deadline. Only the
// writer goroutine calls begin and flush. The connection's own lock is held
// during the write so that a control frame written through by the reader
// goroutine (a close reply) cannot overtake the batch; no hub lock is held.
func (b *batchConn) flush(deadline time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batching = false
	if b.buf == nil {
		return nil
	}
	buf := b.buf
	b.buf = nil
	defer func() {
		if cap(*buf) <= maxPooledBatchBuffer {
			*buf = (*buf)[:0]
			batchBufferPool.Put(buf)
		}
	}()
	if len(*buf) == 0 {
		return nil
	}
	if err := b.Conn.SetWriteDeadline(deadline); err != nil {
		return fmt.Errorf("set write deadline: %w", err)
	}
	if _, err := b.Conn.Write(*buf); err != nil {
		return fmt.Errorf("write batch: %w", err)
	}
	return nil
}

// hijackWrapper makes websocket.Upgrader hijack a batchConn instead of the
// raw connection. conn receives the wrapper once the hijack happened.
type hijackWrapper struct {
	http.ResponseWriter
	conn *batchConn
}

// Hijack hijacks the underlying connection and wraps it.
func (w *hijackWrapper) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("response writer %T cannot hijack", w.ResponseWriter)
	}
	c, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("hijack: %w", err)
	}
	w.conn = &batchConn{Conn: c}
	return w.conn, rw, nil
}

package mapping

import (
	"bufio"
	"io"
	"sync"

	"github.com/wharfedi/wharf/mapping/canonical"
)

// JSONLines writes canonical documents as JSON Lines. Encoding runs on a
// goroutine of its own, so mapping and encoding overlap on two cores;
// documents are written in the order given. Emit fits Options.Emit. Call
// Close to wait for the writer and flush; it returns the first write
// error. Memory is bounded by a few batches of documents.
type JSONLines struct {
	ch    chan []canonical.Document
	batch []canonical.Document
	done  chan struct{}
	mu    sync.Mutex
	err   error
	pool  sync.Pool
}

const jsonBatch = 64

// NewJSONLines starts a writer to w.
func NewJSONLines(w io.Writer) *JSONLines {
	j := &JSONLines{ch: make(chan []canonical.Document, 4), done: make(chan struct{})}
	go j.run(bufio.NewWriterSize(w, 256<<10))
	return j
}

func (j *JSONLines) run(bw *bufio.Writer) {
	defer close(j.done)
	var buf []byte
	var err error
	for batch := range j.ch {
		for _, d := range batch {
			if err != nil {
				break
			}
			buf, err = canonical.AppendJSON(buf[:0], d)
			if err == nil {
				buf = append(buf, '\n')
				_, err = bw.Write(buf)
			}
		}
		clear(batch)
		j.pool.Put(batch[:0])
		if err != nil {
			j.setErr(err)
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	j.setErr(err)
}

func (j *JSONLines) setErr(err error) {
	j.mu.Lock()
	if j.err == nil {
		j.err = err
	}
	j.mu.Unlock()
}

func (j *JSONLines) error() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Emit queues d for writing.
func (j *JSONLines) Emit(d canonical.Document) error {
	if j.batch == nil {
		if b, ok := j.pool.Get().([]canonical.Document); ok {
			j.batch = b
		} else {
			j.batch = make([]canonical.Document, 0, jsonBatch)
		}
	}
	j.batch = append(j.batch, d)
	if len(j.batch) == jsonBatch {
		j.ch <- j.batch
		j.batch = nil
		return j.error()
	}
	return nil
}

// Close writes what is queued, flushes and returns the first error.
func (j *JSONLines) Close() error {
	if len(j.batch) > 0 {
		j.ch <- j.batch
		j.batch = nil
	}
	close(j.ch)
	<-j.done
	return j.error()
}

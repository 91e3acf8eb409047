package as2

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wharfedi/wharf/internal/iobuf"
)

// The receiving endpoint works on files, never on whole bodies in memory:
// the request body is spooled to a file, and every layer that changes bytes
// (base64, decryption, decompression) writes the next layer to another
// spool file; MIME entities and multipart parts are byte ranges of those
// files (io.SectionReader), so signatures and MICs still cover exact bytes.

// spool holds one request's temporary files and removes them at close.
// Layers up to spoolInMemory bytes stay in memory (small messages, the
// common case, touch no file); larger ones spill to a file in dir.
type spool struct {
	dir   string
	files []*os.File
}

// spoolInMemory is the largest layer a request keeps in memory.
const spoolInMemory = 1 << 20

func (s *spool) create() (*os.File, error) {
	dir := s.dir
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := os.CreateTemp(dir, "as2-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("as2: spool file in %s: %w", dir, err)
	}
	s.files = append(s.files, f)
	return f, nil
}

// write makes a layer from what fill writes and returns its bytes. fill
// gets a *spoolWriter (restart empties it for another attempt).
func (s *spool) write(fill func(w io.Writer) error) (*io.SectionReader, error) {
	sw := &spoolWriter{sp: s}
	if err := fill(sw); err != nil {
		return nil, err
	}
	return sw.done()
}

func (s *spool) close() {
	for _, f := range s.files {
		f.Close()
		os.Remove(f.Name())
	}
	s.files = nil
}

// spoolWriter keeps what is written in memory up to spoolInMemory bytes,
// then moves it to a spool file and writes on there.
type spoolWriter struct {
	sp  *spool
	mem []byte
	f   *os.File
	bw  *bufio.Writer
	n   int64
}

func (w *spoolWriter) Write(p []byte) (int, error) {
	if w.f == nil && len(w.mem)+len(p) <= spoolInMemory {
		w.mem = append(w.mem, p...)
		w.n += int64(len(p))
		return len(p), nil
	}
	if w.f == nil {
		f, err := w.sp.create()
		if err != nil {
			return 0, err
		}
		w.f, w.bw = f, bufio.NewWriterSize(f, 64<<10)
		if _, err := w.bw.Write(w.mem); err != nil {
			return 0, fmt.Errorf("as2: spool file %s: %w", f.Name(), err)
		}
		w.mem = nil
	}
	n, err := w.bw.Write(p)
	w.n += int64(n)
	if err != nil {
		err = fmt.Errorf("as2: spool file %s: %w", w.f.Name(), err)
	}
	return n, err
}

// restart empties the layer.
func (w *spoolWriter) restart() (io.Writer, error) {
	w.mem, w.n = w.mem[:0], 0
	if w.f != nil {
		w.bw.Reset(w.f)
		if err := w.f.Truncate(0); err != nil {
			return nil, err
		}
		if _, err := w.f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func (w *spoolWriter) done() (*io.SectionReader, error) {
	if w.f == nil {
		return io.NewSectionReader(bytes.NewReader(w.mem), 0, w.n), nil
	}
	if err := w.bw.Flush(); err != nil {
		return nil, fmt.Errorf("as2: spool file %s: %w", w.f.Name(), err)
	}
	return io.NewSectionReader(w.f, 0, w.n), nil
}

// section returns a fresh reader over all of r.
func section(r *io.SectionReader) *io.SectionReader { return io.NewSectionReader(r, 0, r.Size()) }

// readAllSection reads a small section whole.
func readAllSection(r *io.SectionReader, max int64, what string) ([]byte, error) {
	if r.Size() > max {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d this server reads whole", what, r.Size(), max)
	}
	b := make([]byte, r.Size())
	_, err := r.ReadAt(b, 0)
	if err == io.EOF {
		err = nil
	}
	return b, err
}

// fileEntity is a MIME entity inside a spool file: Raw is its headers,
// blank line and body; Body is the body, in its transfer encoding.
type fileEntity struct {
	Header map[string][]string
	Raw    *io.SectionReader
	Body   *io.SectionReader
}

func (e *fileEntity) mediaType() (string, map[string]string) {
	return (&Entity{Header: e.Header}).MediaType()
}

// maxHeaderBlock bounds an entity's header block.
const maxHeaderBlock = 64 << 10

// parseFileEntity reads an entity's headers from the start of raw.
func parseFileEntity(raw *io.SectionReader) (*fileEntity, error) {
	head := make([]byte, min(raw.Size(), maxHeaderBlock))
	if _, err := raw.ReadAt(head, 0); err != nil && err != io.EOF {
		return nil, err
	}
	_, bodyAt := headerEnd(head)
	if bodyAt < 0 {
		if raw.Size() > maxHeaderBlock {
			return nil, fmt.Errorf("mime: no blank line in the first %d bytes (headers too long, or no headers)", maxHeaderBlock)
		}
		return nil, errors.New("mime: no blank line after the headers")
	}
	e, err := ParseEntity(head[:bodyAt])
	if err != nil {
		return nil, err
	}
	return &fileEntity{Header: e.Header, Raw: raw, Body: io.NewSectionReader(raw, int64(bodyAt), raw.Size()-int64(bodyAt))}, nil
}

// decoded returns the body without its Content-Transfer-Encoding (see
// Entity.Decoded), decoding base64 into a spool file.
func (e *fileEntity) decoded(sp *spool) (*io.SectionReader, error) {
	return decodeCTEStream(sp, e.Header["Content-Transfer-Encoding"], e.Body)
}

func decodeCTEStream(sp *spool, cte []string, body *io.SectionReader) (*io.SectionReader, error) {
	v := ""
	if len(cte) > 0 {
		v = cte[0]
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "binary", "8bit", "7bit":
		return body, nil
	case "base64":
		return sp.write(func(w io.Writer) error {
			_, err := io.Copy(w, base64.NewDecoder(base64.RawStdEncoding, &base64Clean{r: bufio.NewReaderSize(section(body), iobuf.Size(body.Size(), 64<<10))}))
			if err != nil {
				return fmt.Errorf("mime: base64 body: %w", err)
			}
			return nil
		})
	}
	return nil, fmt.Errorf("mime: content-transfer-encoding %q is not supported (use binary or base64)", v)
}

// base64Clean drops line ends and blanks from base64 text, and its
// padding (decoded as unpadded, as senders that drop it need); anything
// but padding after padding is an error.
type base64Clean struct {
	r      *bufio.Reader
	padded bool
}

func (c *base64Clean) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		b, err := c.r.ReadByte()
		if err != nil {
			if n > 0 && err == io.EOF {
				return n, nil
			}
			return n, err
		}
		switch b {
		case '\r', '\n', ' ', '\t':
			continue
		case '=':
			c.padded = true
			continue
		}
		if c.padded {
			return n, errors.New("data after base64 padding")
		}
		p[n] = b
		n++
	}
	return n, nil
}

// looksBase64At is looksBase64 on the first bytes of r.
func looksBase64At(r *io.SectionReader) bool {
	b := make([]byte, min(r.Size(), 256))
	n, _ := r.ReadAt(b, 0)
	return looksBase64(b[:n])
}

// maxParts bounds the parts partsAt returns: AS2 multiparts have two
// (multipart/signed) or three (multipart/report).
const maxParts = 16

// partsAt is Parts over a file: the byte ranges of a multipart body's
// parts, at most maxParts of them.
func partsAt(body *io.SectionReader, boundary string) ([]*io.SectionReader, error) {
	if boundary == "" {
		return nil, errors.New("mime: multipart without a boundary")
	}
	delim := []byte("--" + boundary)
	byteAt := func(i int64) byte {
		var b [1]byte
		if _, err := body.ReadAt(b[:], i); err != nil {
			return 0
		}
		return b[0]
	}
	var parts []*io.SectionReader
	start, pos := int64(-1), int64(0)
	closed := false
	err := scanDelimiters(body, delim, func(i int64) (bool, error) {
		if i < pos {
			return false, nil
		}
		after := i + int64(len(delim))
		closing := byteAt(after) == '-' && byteAt(after+1) == '-'
		if start >= 0 {
			end := i
			if end > 0 && byteAt(end-1) == '\n' {
				end--
				if end > 0 && byteAt(end-1) == '\r' {
					end--
				}
			}
			if end < start {
				end = start
			}
			if len(parts) == maxParts {
				return true, fmt.Errorf("mime: multipart body with boundary %q has more than %d parts", boundary, maxParts)
			}
			parts = append(parts, io.NewSectionReader(body, start, end-start))
		}
		if closing {
			closed = true
			return true, nil
		}
		eol, err := indexByteAt(body, after, '\n')
		if err != nil {
			return true, err
		}
		if eol < 0 {
			return true, errors.New("mime: truncated multipart body")
		}
		start = eol + 1
		pos = start
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if closed {
		return parts, nil
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("mime: no part delimited by boundary %q", boundary)
	}
	return nil, fmt.Errorf("mime: multipart body with boundary %q has no closing delimiter", boundary)
}

// scanDelimiters calls fn with each offset, in order, where delim starts
// a line, until fn says stop.
func scanDelimiters(r *io.SectionReader, delim []byte, fn func(int64) (bool, error)) error {
	window := iobuf.Size(r.Size(), 256<<10)
	keep := len(delim) + 1
	buf := make([]byte, window+keep)
	base, have, checked := int64(0), 0, int64(-1) // buf[0] is at base
	for off := int64(0); off < r.Size(); {
		n, err := r.ReadAt(buf[have:have+window], off)
		if err != nil && err != io.EOF {
			return err
		}
		off += int64(n)
		total := have + n
		for i := 0; ; {
			j := bytes.Index(buf[i:total], delim)
			if j < 0 {
				break
			}
			j += i
			abs := base + int64(j)
			if abs > checked {
				checked = abs
				if abs == 0 || j > 0 && buf[j-1] == '\n' {
					if stop, err := fn(abs); stop || err != nil {
						return err
					}
				}
			}
			i = j + 1
		}
		if n == 0 {
			break
		}
		k := min(keep, total)
		copy(buf, buf[total-k:total])
		base += int64(total - k)
		have = k
	}
	return nil
}

// indexByteAt returns the offset of the first c at or after from, or -1.
func indexByteAt(r *io.SectionReader, from int64, c byte) (int64, error) {
	buf := make([]byte, iobuf.Size(r.Size()-from, 4<<10))
	for off := from; off < r.Size(); {
		n, err := r.ReadAt(buf, off)
		if i := bytes.IndexByte(buf[:n], c); i >= 0 {
			return off + int64(i), nil
		}
		if err != nil && err != io.EOF {
			return -1, err
		}
		if n == 0 {
			break
		}
		off += int64(n)
	}
	return -1, nil
}

// crlfReader is canonicalCRLF as a stream: bare LF becomes CRLF.
type crlfReader struct {
	r         *bufio.Reader
	prev      byte
	pendingLF bool
}

func (c *crlfReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if c.pendingLF {
			p[n], c.prev, c.pendingLF = '\n', '\n', false
			n++
			continue
		}
		b, err := c.r.ReadByte()
		if err != nil {
			if n > 0 && err == io.EOF {
				return n, nil
			}
			return n, err
		}
		if b == '\n' && c.prev != '\r' {
			p[n], c.prev, c.pendingLF = '\r', '\r', true
			n++
			continue
		}
		p[n], c.prev = b, b
		n++
	}
	return n, nil
}

// verifySignedAt is VerifySigned over a file: the signed part is hashed
// from the file, never read whole. It returns the bytes that verified (the
// part itself, or the tolerated variant written to a spool file).
func verifySignedAt(e *fileEntity, certs []*x509.Certificate, now time.Time, sp *spool) (*Verified, *io.SectionReader, error) {
	_, params := e.mediaType()
	parts, err := partsAt(e.Body, params["boundary"])
	if err != nil {
		return nil, nil, err
	}
	if len(parts) != 2 {
		return nil, nil, fmt.Errorf("multipart/signed has %d parts, want 2", len(parts))
	}
	sigRaw, err := readAllSection(parts[1], maxCMSField, "the signature part")
	if err != nil {
		return nil, nil, err
	}
	sigEnt, err := ParseEntity(sigRaw)
	if err != nil {
		return nil, nil, fmt.Errorf("signature part: %w", err)
	}
	sig, err := sigEnt.Decoded()
	if err != nil {
		return nil, nil, fmt.Errorf("signature part: %w", err)
	}
	if sigEnt.Header.Get("Content-Transfer-Encoding") == "" && looksBase64(sig) {
		if d, err := decodeCTE("base64", sig); err == nil {
			sig = d
		}
	}
	if len(certs) == 0 {
		return nil, nil, errors.New("no certificate is configured for the partner to verify its signature (add one with wharf partner add ID --as2-cert FILE)")
	}
	signed := parts[0]
	n := signed.Size()
	candidates := []signedCandidate{
		{func() io.Reader { return section(signed) }, ""},
		{func() io.Reader { return &crlfReader{r: bufio.NewReaderSize(section(signed), iobuf.Size(n, 64<<10))} }, crlfNote},
		{func() io.Reader { return io.MultiReader(section(signed), strings.NewReader("\r\n")) }, plusCRLFNote},
	}
	var tail [2]byte
	if n >= 2 {
		if _, err := signed.ReadAt(tail[:], n-2); err == nil && string(tail[:]) == "\r\n" {
			candidates = append(candidates, signedCandidate{func() io.Reader { return io.NewSectionReader(signed, 0, n-2) }, minusCRLFNote})
		}
	}
	v, c, err := verifyCandidates(sig, candidates, certs, now)
	if err != nil {
		return nil, nil, err
	}
	if c.note == "" {
		return v, signed, nil
	}
	out, err := sp.write(func(w io.Writer) error { _, err := io.Copy(w, c.content()); return err })
	return v, out, err
}

package as2

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"

	"github.com/wharfedi/wharf/internal/iobuf"
)

// Streaming CMS for large messages: the structure around the content
// (recipients, algorithms, tags) is small and read whole; the content
// (EnvelopedData's encryptedContent, CompressedData's OCTET STRING), DER
// or BER with indefinite lengths and chunks, is streamed through the
// cipher or zlib into a writer with a bounded buffer. Decrypt and
// Decompress (cms.go) are the in-memory forms for MDNs and small bodies.

// maxCMSField bounds a CMS field read whole (recipient infos, algorithm
// parameters, attributes, the tag).
const maxCMSField = 1 << 20

// berStream reads BER elements one header at a time.
type berStream struct {
	r   *bufio.Reader
	pos int64
	src *io.SectionReader // when set, skip seeks instead of reading
}

func newBERStream(r io.Reader) *berStream { return &berStream{r: bufio.NewReaderSize(r, 64<<10)} }

// newBERSection reads a section with a buffer no larger than it.
func newBERSection(r *io.SectionReader) *berStream {
	return &berStream{r: bufio.NewReaderSize(r, iobuf.Size(r.Size(), 64<<10)), src: r}
}

// skip passes over n bytes, seeking when it can.
func (b *berStream) skip(n int64) error {
	if b.src == nil || n <= int64(b.r.Buffered()) {
		m, err := io.CopyN(io.Discard, b.r, n)
		b.pos += m
		if err == io.EOF {
			err = fmt.Errorf("ber: content truncated at byte %d: %w", b.pos, io.ErrUnexpectedEOF)
		}
		return err
	}
	if b.pos+n > b.src.Size() {
		return fmt.Errorf("ber: content truncated at byte %d: %w", b.src.Size(), io.ErrUnexpectedEOF)
	}
	b.pos += n
	b.r.Reset(io.NewSectionReader(b.src, b.pos, b.src.Size()-b.pos))
	return nil
}

type berHeader struct {
	class       int
	tag         int
	constructed bool
	length      int64 // -1: indefinite
	raw         []byte
}

func (h berHeader) is(class, tag int) bool { return h.class == class && h.tag == tag }
func (h berHeader) eoc() bool              { return len(h.raw) == 2 && h.raw[0] == 0 && h.raw[1] == 0 }

func (b *berStream) byte() (byte, error) {
	c, err := b.r.ReadByte()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, fmt.Errorf("ber: truncated at byte %d: %w", b.pos, err)
	}
	b.pos++
	return c, nil
}

func (b *berStream) header() (berHeader, error) {
	var h berHeader
	c, err := b.byte()
	if err != nil {
		return h, err
	}
	h.raw = append(h.raw, c)
	h.class, h.constructed, h.tag = int(c>>6), c&0x20 != 0, int(c&0x1f)
	if h.tag == 0x1f {
		h.tag = 0
		for i := 0; ; i++ {
			if i > 3 {
				return h, errors.New("ber: malformed high tag number")
			}
			c, err := b.byte()
			if err != nil {
				return h, err
			}
			h.raw = append(h.raw, c)
			h.tag = h.tag<<7 | int(c&0x7f)
			if c&0x80 == 0 {
				break
			}
		}
	}
	l, err := b.byte()
	if err != nil {
		return h, err
	}
	h.raw = append(h.raw, l)
	switch {
	case l < 0x80:
		h.length = int64(l)
	case l == 0x80:
		if !h.constructed {
			return h, errors.New("ber: indefinite length on a primitive value")
		}
		h.length = -1
	default:
		n := int(l & 0x7f)
		if n > 7 {
			return h, errors.New("ber: unsupported length encoding")
		}
		for i := 0; i < n; i++ {
			c, err := b.byte()
			if err != nil {
				return h, err
			}
			h.raw = append(h.raw, c)
			h.length = h.length<<8 | int64(c)
		}
	}
	return h, nil
}

// element reads the rest of the element h starts, appending its bytes
// (header included) to out, at most max bytes in all.
func (b *berStream) element(h berHeader, max int, out []byte, depth int) ([]byte, error) {
	if depth > berMaxDepth {
		return nil, errors.New("ber: nesting too deep")
	}
	out = append(out, h.raw...)
	if h.length >= 0 {
		if int64(len(out))+h.length > int64(max) {
			return nil, fmt.Errorf("ber: a %d-byte field at byte %d is larger than the %d bytes allowed", h.length, b.pos, max)
		}
		start := len(out)
		out = append(out, make([]byte, h.length)...)
		n, err := io.ReadFull(b.r, out[start:])
		b.pos += int64(n)
		if err != nil {
			return nil, fmt.Errorf("ber: truncated at byte %d: %w", b.pos, io.ErrUnexpectedEOF)
		}
		return out, nil
	}
	for {
		ch, err := b.header()
		if err != nil {
			return nil, err
		}
		if ch.eoc() {
			return append(out, 0, 0), nil
		}
		if out, err = b.element(ch, max, out, depth+1); err != nil {
			return nil, err
		}
	}
}

// next reads a whole (small) element.
func (b *berStream) next() (berHeader, []byte, error) {
	h, err := b.header()
	if err != nil {
		return h, nil, err
	}
	raw, err := b.element(h, maxCMSField, nil, 0)
	return h, raw, err
}

// expect reads a header and checks its tag.
func (b *berStream) expect(class, tag int, constructed bool, what string) (berHeader, error) {
	h, err := b.header()
	if err != nil {
		return h, err
	}
	if !h.is(class, tag) || h.constructed != constructed {
		return h, fmt.Errorf("cms: %s expected at byte %d, found tag %x", what, b.pos-int64(len(h.raw)), h.raw[0])
	}
	return h, nil
}

// octets streams the contents of an OCTET STRING (or an implicitly tagged
// one) h starts, primitive or constructed in chunks, into w (nil: skips
// them).
func (b *berStream) octets(h berHeader, w io.Writer, depth int) error {
	if depth > berMaxDepth {
		return errors.New("ber: nesting too deep")
	}
	if !h.constructed && w == nil {
		return b.skip(h.length)
	}
	if !h.constructed {
		n, err := io.CopyN(w, b.r, h.length)
		b.pos += n
		if err == io.EOF {
			return fmt.Errorf("ber: content truncated at byte %d: %w", b.pos, io.ErrUnexpectedEOF)
		}
		return err
	}
	end := b.pos + h.length
	for {
		if h.length >= 0 && b.pos >= end {
			if b.pos > end {
				return errors.New("ber: a chunk overruns its constructed OCTET STRING")
			}
			return nil
		}
		ch, err := b.header()
		if err != nil {
			return err
		}
		if h.length < 0 && ch.eoc() {
			return nil
		}
		if !ch.is(0, 4) {
			return errors.New("ber: constructed OCTET STRING holds a non-OCTET STRING")
		}
		if err := b.octets(ch, w, depth+1); err != nil {
			return err
		}
	}
}

// endOf reads the end-of-contents of an indefinite-length element.
func (b *berStream) endOf(h berHeader) error {
	if h.length >= 0 {
		return nil
	}
	e, err := b.header()
	if err != nil {
		return err
	}
	if !e.eoc() {
		return fmt.Errorf("cms: end-of-contents expected at byte %d", b.pos-int64(len(e.raw)))
	}
	return nil
}

func unmarshalBER(raw []byte, v any, params string) error {
	der, err := BERToDER(raw)
	if err != nil {
		return err
	}
	_, err = asn1.UnmarshalWithParams(der, v, params)
	return err
}

// StreamContentType returns the CMS content type a ContentInfo starts with.
func StreamContentType(r io.Reader) (asn1.ObjectIdentifier, error) {
	b := newBERStream(r)
	ct, _, err := b.contentInfo()
	return ct, err
}

func streamContentType(r *io.SectionReader) (asn1.ObjectIdentifier, error) {
	ct, _, err := newBERSection(section(r)).contentInfo()
	return ct, err
}

// contentInfo reads ContentInfo's header, content type and the [0] header.
func (b *berStream) contentInfo() (asn1.ObjectIdentifier, berHeader, error) {
	if _, err := b.expect(0, 16, true, "ContentInfo SEQUENCE"); err != nil {
		return nil, berHeader{}, fmt.Errorf("cms: %w", err)
	}
	_, raw, err := b.next()
	if err != nil {
		return nil, berHeader{}, fmt.Errorf("cms: %w", err)
	}
	var ct asn1.ObjectIdentifier
	if err := unmarshalBER(raw, &ct, ""); err != nil {
		return nil, berHeader{}, fmt.Errorf("cms: content type: %w", err)
	}
	h, err := b.expect(2, 0, true, "content [0]")
	return ct, h, err
}

// envelopeHead is EnvelopedData or AuthEnvelopedData up to its content.
type envelopeHead struct {
	auth   bool
	recips []asn1.RawValue
	alg    pkix.AlgorithmIdentifier
	eci    berHeader // EncryptedContentInfo
	ct     berHeader // encryptedContent [0]
}

func (b *berStream) envelope() (*envelopeHead, error) {
	ct, _, err := b.contentInfo()
	if err != nil {
		return nil, err
	}
	e := &envelopeHead{}
	switch {
	case ct.Equal(oidEnvelopedData):
	case ct.Equal(oidAuthEnvelopedData):
		e.auth = true
	default:
		return nil, fmt.Errorf("cms: %w %v (want enveloped data)", errUnsupportedContent, ct)
	}
	if _, err := b.expect(0, 16, true, "EnvelopedData SEQUENCE"); err != nil {
		return nil, err
	}
	if _, _, err := b.next(); err != nil { // version
		return nil, err
	}
	h, err := b.header()
	if err != nil {
		return nil, err
	}
	if h.is(2, 0) { // originatorInfo
		if _, err := b.element(h, maxCMSField, nil, 0); err != nil {
			return nil, err
		}
		if h, err = b.header(); err != nil {
			return nil, err
		}
	}
	if !h.is(0, 17) {
		return nil, errors.New("cms: recipient infos (SET) expected")
	}
	raw, err := b.element(h, maxCMSField, nil, 0)
	if err != nil {
		return nil, err
	}
	if err := unmarshalBER(raw, &e.recips, "set"); err != nil {
		return nil, fmt.Errorf("cms: recipient infos: %w", err)
	}
	if e.eci, err = b.expect(0, 16, true, "EncryptedContentInfo SEQUENCE"); err != nil {
		return nil, err
	}
	if _, _, err := b.next(); err != nil { // content type
		return nil, err
	}
	if _, raw, err = b.next(); err != nil {
		return nil, err
	}
	if err := unmarshalBER(raw, &e.alg, ""); err != nil {
		return nil, fmt.Errorf("cms: content encryption algorithm: %w", err)
	}
	if e.ct, err = b.header(); err != nil {
		return nil, err
	}
	if !e.ct.is(2, 0) {
		return nil, errors.New("cms: the encrypted content is missing (detached content is not supported)")
	}
	return e, nil
}

// authTail reads what follows AuthEnvelopedData's content: the
// authenticated attributes (the GCM AAD) and the tag.
func (b *berStream) authTail(e *envelopeHead) (aad, mac []byte, err error) {
	if err := b.endOf(e.eci); err != nil {
		return nil, nil, err
	}
	h, raw, err := b.next()
	if err != nil {
		return nil, nil, err
	}
	if h.is(2, 1) {
		der, err := BERToDER(raw)
		if err != nil {
			return nil, nil, err
		}
		aad = append([]byte{0x31}, der[1:]...) // the DER of the attributes with the SET OF tag
		if _, raw, err = b.next(); err != nil {
			return nil, nil, err
		}
	}
	if err := unmarshalBER(raw, &mac, ""); err != nil {
		return nil, nil, fmt.Errorf("cms: auth-enveloped data tag: %w", err)
	}
	return aad, mac, nil
}

// DecryptStream opens EnvelopedData or AuthEnvelopedData read from src
// (re-readable: AES-GCM and a second recipient need another pass) into
// the writer newOut returns for each attempt. For AES-GCM the written
// bytes are trustworthy only once DecryptStream returns nil.
func DecryptStream(src io.ReaderAt, size int64, cert *x509.Certificate, key crypto.Decrypter, newOut func() (io.Writer, error)) (*Decrypted, error) {
	pass := func() *berStream { return newBERSection(io.NewSectionReader(src, 0, size)) }
	b := pass()
	e, err := b.envelope()
	if err != nil {
		return nil, err
	}
	var aad, mac []byte
	if e.auth { // the tag and AAD follow the content: read them first
		if err := b.octets(e.ct, nil, 0); err != nil {
			return nil, err
		}
		if aad, mac, err = b.authTail(e); err != nil {
			return nil, err
		}
	}
	keyLen, name, err := contentKeyLen(e.alg.Algorithm)
	if err != nil {
		return nil, err
	}
	ordered := keyTransRecipients(e.recips, cert)
	var lastErr error = errNoRecipient
	for _, k := range ordered {
		cek, wrap, err := unwrapKey(k, key, keyLen)
		if err != nil {
			lastErr = err
			continue
		}
		out, err := newOut()
		if err != nil {
			return nil, err
		}
		var dec io.WriteCloser
		if e.auth {
			dec, err = gcmStream(cek, e.alg, mac, aad, out)
		} else {
			dec, err = cbcStream(cek, e.alg, out)
		}
		if err == nil {
			b := pass()
			var h *envelopeHead
			if h, err = b.envelope(); err == nil {
				if err = b.octets(h.ct, dec, 0); err == nil {
					err = dec.Close()
				}
			}
		}
		if err != nil {
			lastErr = err
			continue
		}
		return &Decrypted{Algorithm: name, KeyWrap: wrap}, nil
	}
	return nil, fmt.Errorf("cms: %w", lastErr)
}

func gcmStream(cek []byte, alg pkix.AlgorithmIdentifier, mac, aad []byte, w io.Writer) (io.WriteCloser, error) {
	p, err := gcmParams(alg)
	if err != nil {
		return nil, err
	}
	if len(mac) != p.ICVLen {
		return nil, fmt.Errorf("gcm tag is %d bytes, parameters say %d", len(mac), p.ICVLen)
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	return newGCMOpener(block, p.Nonce, aad, mac, w)
}

// cbcOpener decrypts CBC ciphertext written to it into w, holding back
// the last block until Close removes the padding.
type cbcOpener struct {
	w    io.Writer
	mode cipher.BlockMode
	bs   int
	buf  []byte
	n    int
	seen bool
}

func cbcStream(cek []byte, alg pkix.AlgorithmIdentifier, w io.Writer) (io.WriteCloser, error) {
	mode, bs, err := cbcDecrypter(cek, alg)
	if err != nil {
		return nil, err
	}
	return &cbcOpener{w: w, mode: mode, bs: bs, buf: make([]byte, 32<<10)}, nil
}

func (c *cbcOpener) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		k := copy(c.buf[c.n:], p)
		c.n += k
		p = p[k:]
		c.seen = true
		if c.n < len(c.buf) {
			break
		}
		// Decrypt all but the last block, which may hold the padding.
		m := c.n - c.bs
		c.mode.CryptBlocks(c.buf[:m], c.buf[:m])
		if _, err := c.w.Write(c.buf[:m]); err != nil {
			return total - len(p), err
		}
		c.n = copy(c.buf, c.buf[m:c.n])
	}
	return total, nil
}

func (c *cbcOpener) Close() error {
	if !c.seen || c.n == 0 || c.n%c.bs != 0 {
		return errors.New("ciphertext is not a whole number of blocks")
	}
	pt := c.buf[:c.n]
	c.mode.CryptBlocks(pt, pt)
	n := int(pt[len(pt)-1])
	if n == 0 || n > c.bs {
		return errors.New("bad padding (wrong key or corrupted content)")
	}
	for _, b := range pt[len(pt)-n:] {
		if int(b) != n {
			return errors.New("bad padding (wrong key or corrupted content)")
		}
	}
	_, err := c.w.Write(pt[:len(pt)-n])
	return err
}

// ErrDecompressLimit: compressed content expands beyond the bound its
// reader set. Decompression stops there: at most that many bytes were
// written, and the rest of the zlib stream was never inflated.
var ErrDecompressLimit = errors.New("compressed content expands beyond the limit")

// DecompressStream opens CompressedData (RFC 3274, zlib), DER or BER,
// read from r, writing at most max bytes of content to w; more fails with
// ErrDecompressLimit. An error from w stops it and is returned wrapped.
func DecompressStream(r io.Reader, w io.Writer, max int64) error {
	b := newBERStream(r)
	ct, _, err := b.contentInfo()
	if err != nil {
		return err
	}
	if !ct.Equal(oidCompressedData) {
		return fmt.Errorf("cms: %w %v (want compressed data)", errUnsupportedContent, ct)
	}
	if _, err := b.expect(0, 16, true, "CompressedData SEQUENCE"); err != nil {
		return err
	}
	if _, _, err := b.next(); err != nil { // version
		return err
	}
	_, raw, err := b.next()
	if err != nil {
		return err
	}
	var alg pkix.AlgorithmIdentifier
	if err := unmarshalBER(raw, &alg, ""); err != nil {
		return fmt.Errorf("cms: compression algorithm: %w", err)
	}
	if !alg.Algorithm.Equal(oidZlib) {
		return fmt.Errorf("cms: compression algorithm %v is not zlib", alg.Algorithm)
	}
	if _, err := b.expect(0, 16, true, "EncapsulatedContentInfo SEQUENCE"); err != nil {
		return err
	}
	if _, _, err := b.next(); err != nil { // content type
		return err
	}
	if _, err := b.expect(2, 0, true, "compressed content [0]"); err != nil {
		return err
	}
	h, err := b.header()
	if err != nil {
		return err
	}
	if !h.is(0, 4) {
		return errors.New("cms: compressed content is not an OCTET STRING")
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(b.octets(h, pw, 0)) }()
	defer pr.Close() // stops the writer when zlib is done early
	zr, err := zlib.NewReader(pr)
	if err != nil {
		return fmt.Errorf("cms: zlib: %w", err)
	}
	n, err := io.Copy(w, io.LimitReader(zr, max))
	if err != nil {
		return fmt.Errorf("cms: zlib: %w", err)
	}
	if n == max { // one byte more, or the end (and zlib's checksum)
		k, err := io.ReadFull(zr, make([]byte, 1))
		if k > 0 {
			return fmt.Errorf("cms: %w of %d bytes", ErrDecompressLimit, max)
		}
		if err != io.EOF {
			return fmt.Errorf("cms: zlib: %w", err)
		}
	}
	return nil
}

// derHeader is a DER tag and definite length.
func derHeader(tag byte, n int64) []byte {
	if n < 0x80 {
		return []byte{tag, byte(n)}
	}
	var l []byte
	for v := n; v > 0; v >>= 8 {
		l = append([]byte{byte(v)}, l...)
	}
	return append([]byte{tag, 0x80 | byte(len(l))}, l...)
}

// encryptedContentSize is the size of what EncryptStream writes for size bytes
// of content, given the same recipients (RSA key size) and cipher.
func encryptedContentSize(size int64, c Cipher) int64 {
	if c == AES128GCM || c == AES256GCM {
		return size
	}
	return (size/16 + 1) * 16
}

// EncryptStream is Encrypt for content of a known size read from r: the
// DER (definite lengths) is written to w as the content is encrypted, in
// constant memory. AES-GCM's tag follows the content, as AuthEnvelopedData
// has it.
func EncryptStream(w io.Writer, r io.Reader, size int64, recipients []*x509.Certificate, c Cipher, wrap KeyWrap) error {
	e, err := newEncryptor(size, recipients, c, wrap)
	if err != nil {
		return err
	}
	return e.write(w, r)
}

// encryptor holds a content key and the DER around the content: size()
// is known before the content is read, and write may run more than once
// (a retried POST) with the same result for the same content.
type encryptor struct {
	gcm      bool
	block    cipher.Block
	iv       []byte
	nonce    []byte
	head     []byte
	content  int64 // plaintext size
	ctLen    int64
	trailLen int64
}

func newEncryptor(size int64, recipients []*x509.Certificate, c Cipher, wrap KeyWrap) (*encryptor, error) {
	k, err := newContentKey(recipients, c, wrap)
	if err != nil {
		return nil, err
	}
	e := &encryptor{gcm: k.gcm, block: k.block, nonce: k.nonce, iv: k.iv, content: size}
	if e.gcm && size > (1<<32-2)*16 {
		return nil, fmt.Errorf("cms: %d bytes exceed AES-GCM's limit of 64 GiB per message (send with aes256-cbc)", size)
	}
	oid, recips, params := k.oid, k.recips, k.params
	recipSet, err := asn1.MarshalWithParams(recips, "set")
	if err != nil {
		return nil, err
	}
	ctOID, _ := asn1.Marshal(oidData)
	algDER, err := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.RawValue{FullBytes: params}})
	if err != nil {
		return nil, err
	}
	e.ctLen = encryptedContentSize(size, c)
	ctHead := derHeader(0x80, e.ctLen) // [0] IMPLICIT OCTET STRING
	eciLen := int64(len(ctOID)+len(algDER)+len(ctHead)) + e.ctLen
	eciHead := derHeader(0x30, eciLen)
	version, _ := asn1.Marshal(0)
	ctype := oidEnvelopedData
	if e.gcm {
		ctype = oidAuthEnvelopedData
		e.trailLen = 18 // OCTET STRING, 16 bytes of tag
	}
	edLen := int64(len(version)+len(recipSet)+len(eciHead)) + eciLen + e.trailLen
	edHead := derHeader(0x30, edLen)
	typeDER, _ := asn1.Marshal(ctype)
	explicit := derHeader(0xa0, int64(len(edHead))+edLen)
	ciLen := int64(len(typeDER)+len(explicit)+len(edHead)) + edLen
	var head bytes.Buffer
	for _, b := range [][]byte{derHeader(0x30, ciLen), typeDER, explicit, edHead, version, recipSet, eciHead, ctOID, algDER, ctHead} {
		head.Write(b)
	}
	e.head = head.Bytes()
	return e, nil
}

// size is the length of the DER write produces.
func (e *encryptor) size() int64 { return int64(len(e.head)) + e.ctLen + e.trailLen }

func (e *encryptor) write(w io.Writer, r io.Reader) error {
	if _, err := w.Write(e.head); err != nil {
		return err
	}
	n := iobuf.Size(e.content, 32<<10) &^ 15 // whole blocks
	if n == 0 {
		n = 16
	}
	buf := make([]byte, n, n+16)
	var written int64
	var g *ghash
	var ctr cipher.Stream
	var mode cipher.BlockMode
	var tagMask [16]byte
	if e.gcm {
		g = newGHASH(e.block)
		var j0 [16]byte
		copy(j0[:], e.nonce)
		j0[15] = 1
		e.block.Encrypt(tagMask[:], j0[:])
		ctr = gcmCounter(e.block, j0, 12)
	} else {
		mode = cipher.NewCBCEncrypter(e.block, e.iv)
	}
	for {
		n, err := io.ReadFull(r, buf)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return err
		}
		last := err != nil
		chunk := buf[:n]
		written += int64(n)
		if written > e.content {
			return fmt.Errorf("cms: content is longer than the %d bytes announced", e.content)
		}
		if e.gcm {
			ctr.XORKeyStream(chunk, chunk)
			g.write(chunk)
			g.ctLen += uint64(n)
		} else {
			if last { // PKCS#7 padding
				p := 16 - n%16
				for i := 0; i < p; i++ {
					chunk = append(chunk, byte(p))
				}
			}
			mode.CryptBlocks(chunk, chunk)
		}
		if _, err := w.Write(chunk); err != nil {
			return err
		}
		if last {
			break
		}
	}
	if written != e.content {
		return fmt.Errorf("cms: content is %d bytes, %d were announced", written, e.content)
	}
	if e.gcm {
		tag := g.sum()
		subtle.XORBytes(tag[:], tag[:], tagMask[:])
		if _, err := w.Write(append([]byte{0x04, 16}, tag[:]...)); err != nil {
			return err
		}
	}
	return nil
}

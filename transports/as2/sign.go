package as2

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/smallstep/pkcs7"
)

// Signatures: smallstep/pkcs7 signs and verifies detached SignedData. Its
// package-level options (default SHA-1 digests, DES content encryption)
// are never relied on: the digest is set on every SignedData, and Wharf
// encrypts with its own code (cms.go), so no global is touched.

// ErrSignature: the signature does not verify against any of the partner's
// certificates (authentication-failed or integrity-check-failed).
var ErrSignature = errors.New("signature does not verify")

// CertExpiredError: a signature was made with a certificate after its expiry.
type CertExpiredError struct {
	Cert *x509.Certificate
	At   time.Time
}

func (e *CertExpiredError) Error() string {
	return fmt.Sprintf("%s expired on %s (signed at %s)", describeCert(e.Cert), e.Cert.NotAfter.UTC().Format("2006-01-02"), e.At.UTC().Format(time.RFC3339))
}

// signDetached returns a DER SignedData over content, detached, SHA-256.
func signDetached(content []byte, id *Identity) ([]byte, error) {
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		return nil, err
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSigner(id.Cert, id.Key, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("sign with %s: %w", describeCert(id.Cert), err)
	}
	sd.Detach()
	return sd.Finish()
}

// SignEntity wraps the MIME entity (headers and body, CRLF) in
// multipart/signed and returns the new entity's header value and body.
func SignEntity(entity []byte, id *Identity) (contentType string, body []byte, err error) {
	sig, err := signDetached(entity, id)
	if err != nil {
		return "", nil, err
	}
	boundary := newBoundary()
	var b bytes.Buffer
	b.WriteString("--" + boundary + "\r\n")
	b.Write(entity)
	b.WriteString("\r\n--" + boundary + "\r\n")
	b.WriteString("Content-Type: application/pkcs7-signature; name=smime.p7s\r\n")
	b.WriteString("Content-Transfer-Encoding: base64\r\n")
	b.WriteString("Content-Disposition: attachment; filename=smime.p7s\r\n\r\n")
	writeBase64Lines(&b, sig)
	b.WriteString("--" + boundary + "--\r\n")
	ct := fmt.Sprintf(`multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="%s"`, boundary)
	return ct, b.Bytes(), nil
}

func writeBase64Lines(b *bytes.Buffer, data []byte) {
	s := base64.StdEncoding.EncodeToString(data)
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s + "\r\n")
}

func newBoundary() string {
	var r [12]byte
	_, _ = rand.Read(r[:])
	return "----=_wharf_" + hex.EncodeToString(r[:])
}

// Verified is a multipart/signed entity whose signature checked out.
type Verified struct {
	Signed  []byte            // the exact bytes the signature covers (the first part)
	Signer  *x509.Certificate // the partner certificate that verified
	Digest  crypto.Hash
	Relaxed string // non-empty when only a tolerated deviation verified (logged)
	// digests of the signed bytes computed while verifying, by hash: the
	// MIC reuses one instead of reading a large part again.
	digests map[crypto.Hash][]byte
}

// VerifySigned checks a multipart/signed entity against the partner's
// certificates (any of them: several are valid during a rotation). It
// tries the first part's exact bytes, then their CRLF canonical form (a
// sender that signed canonical text but framed with bare LF), then the
// bytes plus or minus a final CRLF (libas2 signs MDNs without it).
func VerifySigned(e *Entity, certs []*x509.Certificate, now time.Time) (*Verified, error) {
	_, params := e.MediaType()
	parts, err := Parts(e.Body, params["boundary"])
	if err != nil {
		return nil, err
	}
	if len(parts) != 2 {
		return nil, fmt.Errorf("multipart/signed has %d parts, want 2", len(parts))
	}
	sigEnt, err := ParseEntity(parts[1])
	if err != nil {
		return nil, fmt.Errorf("signature part: %w", err)
	}
	sig, err := sigEnt.Decoded()
	if err != nil {
		return nil, fmt.Errorf("signature part: %w", err)
	}
	if sigEnt.Header.Get("Content-Transfer-Encoding") == "" && looksBase64(sig) {
		if d, err := decodeCTE("base64", sig); err == nil {
			sig = d
		}
	}
	if len(certs) == 0 {
		return nil, errors.New("no certificate is configured for the partner to verify its signature (add one with wharf partner add ID --as2-cert FILE)")
	}
	signed := parts[0]
	candidates := []signedCandidate{
		{bytesContent(signed), ""},
		{bytesContent(canonicalCRLF(signed)), crlfNote},
		{bytesContent(append(append([]byte{}, signed...), '\r', '\n')), plusCRLFNote},
	}
	if bytes.HasSuffix(signed, []byte("\r\n")) {
		candidates = append(candidates, signedCandidate{bytesContent(signed[:len(signed)-2]), minusCRLFNote})
	}
	v, c, err := verifyCandidates(sig, candidates, certs, now)
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(c.content())
	v.Signed = b
	return v, nil
}

// Deviations VerifySigned tolerates, as logged.
const (
	crlfNote      = "signature covers the CRLF form of a part framed with bare LF"
	plusCRLFNote  = "signature covers the part plus a final CRLF"
	minusCRLFNote = "signature omits the part's final CRLF (a known libas2 quirk)"
)

// signedCandidate is one reading of the bytes a detached signature may
// cover: content returns a fresh reader over them each time.
type signedCandidate struct {
	content func() io.Reader
	note    string
}

func bytesContent(b []byte) func() io.Reader { return func() io.Reader { return bytes.NewReader(b) } }

// verifyCandidates tries each candidate in order and returns the first
// that verifies, or the first candidate's error.
func verifyCandidates(sig []byte, candidates []signedCandidate, certs []*x509.Certificate, now time.Time) (*Verified, signedCandidate, error) {
	var firstErr error
	for _, c := range candidates {
		v, err := verifyDetached(sig, c.content, certs, now)
		if err == nil {
			v.Relaxed = c.note
			return v, c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, signedCandidate{}, firstErr
}

// streamHasher gives smallstep/pkcs7 the digest of content it never
// holds: the signed part is hashed from its reader (a file for large
// messages), once per hash function.
type streamHasher struct {
	content func() io.Reader
	sums    map[crypto.Hash][]byte
}

func (s *streamHasher) Hash(h crypto.Hash, _ io.Reader) ([]byte, error) {
	if d, ok := s.sums[h]; ok {
		return d, nil
	}
	if !h.Available() {
		return nil, fmt.Errorf("hash function %v not available", h)
	}
	hh := h.New()
	if _, err := io.Copy(hh, s.content()); err != nil {
		return nil, err
	}
	s.sums[h] = hh.Sum(nil)
	return s.sums[h], nil
}

// maxUnattributed bounds content signed without signed attributes, whose
// signature covers the content itself and so needs it in memory.
const maxUnattributed = 64 << 20

func verifyDetached(sig []byte, content func() io.Reader, certs []*x509.Certificate, now time.Time) (*Verified, error) {
	der, err := BERToDER(sig)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	if len(p7.Signers) == 0 {
		return nil, errors.New("signature has no signer")
	}
	hasher := &streamHasher{content: content, sums: map[crypto.Hash][]byte{}}
	p7.Hasher = hasher
	for _, si := range p7.Signers {
		if len(si.AuthenticatedAttributes) == 0 { // the signature is over the content itself
			b, err := io.ReadAll(io.LimitReader(content(), maxUnattributed+1))
			if err != nil {
				return nil, fmt.Errorf("signature: %w", err)
			}
			if len(b) > maxUnattributed {
				return nil, fmt.Errorf("%w: a signature without signed attributes over more than %d bytes is not supported: the sender must sign with attributes (every AS2 product does by default)", ErrSignature, maxUnattributed)
			}
			p7.Content = b
			break
		}
	}
	ias := p7.Signers[0].IssuerAndSerialNumber
	var matching []*x509.Certificate
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, ias.IssuerName.FullBytes) && c.SerialNumber.Cmp(ias.SerialNumber) == 0 {
			matching = append(matching, c)
		}
	}
	if len(matching) == 0 {
		return nil, fmt.Errorf("%w: signed by a certificate (serial %s) that is not among the partner's %d registered certificate(s): %s", ErrSignature, ias.SerialNumber.Text(16), len(certs), describeCerts(certs))
	}
	var lastErr error
	for _, c := range matching {
		p7.Certificates = []*x509.Certificate{c}
		// Verification here is of the signature with a certificate the
		// partner registered; chains are not used, so no trust store.
		if err := p7.VerifyWithChainAtTime(nil, now); err != nil {
			var st *pkcs7.SigningTimeNotValidError
			if errors.As(err, &st) && st.SigningTime.After(c.NotAfter) {
				return nil, &CertExpiredError{Cert: c, At: st.SigningTime}
			}
			if errors.As(err, &st) {
				return nil, fmt.Errorf("%w: signed at %s, outside the validity of %s", ErrSignature, st.SigningTime.Format(time.RFC3339), describeCert(c))
			}
			lastErr = err
			continue
		}
		h := crypto.SHA256
		if hh, _, ok := hashByOID(p7.Signers[0].DigestAlgorithm.Algorithm); ok {
			h = hh
		}
		return &Verified{Signer: c, Digest: h, digests: hasher.sums}, nil
	}
	return nil, fmt.Errorf("%w: %w", ErrSignature, lastErr)
}

func describeCert(c *x509.Certificate) string {
	if c == nil {
		return "no certificate"
	}
	return fmt.Sprintf("certificate %q (serial %s, valid %s to %s)", c.Subject.CommonName, c.SerialNumber.Text(16),
		c.NotBefore.UTC().Format("2006-01-02"), c.NotAfter.UTC().Format("2006-01-02"))
}

func describeCerts(cs []*x509.Certificate) string {
	var s []string
	for _, c := range cs {
		s = append(s, describeCert(c))
	}
	return strings.Join(s, "; ")
}

// signDigest returns a DER SignedData, detached, over content whose
// digest (SHA-256) the caller computed while streaming it: signed
// attributes content type, signing time and message digest, signed with
// RSA PKCS#1 v1.5, the certificate included. It is what signDetached makes
// through smallstep/pkcs7, which needs the content in memory.
func signDigest(digest []byte, id *Identity, at time.Time) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, errors.New("sign: want a SHA-256 digest")
	}
	attr := func(oid asn1.ObjectIdentifier, v any) ([]byte, error) {
		val, err := asn1.Marshal(v)
		if err != nil {
			return nil, err
		}
		return asn1.Marshal(struct {
			Type  asn1.ObjectIdentifier
			Value asn1.RawValue
		}{oid, asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: val}})
	}
	var attrs [][]byte
	for _, a := range []struct {
		oid asn1.ObjectIdentifier
		v   any
	}{
		{oidAttrContentType, oidData},
		{oidAttrSigningTime, at.UTC().Truncate(time.Second)},
		{oidAttrMessageDigest, digest},
	} {
		b, err := attr(a.oid, a.v)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, b)
	}
	sort.Slice(attrs, func(i, j int) bool { return bytes.Compare(attrs[i], attrs[j]) < 0 }) // DER SET OF order
	joined := bytes.Join(attrs, nil)
	set, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: joined})
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(set)
	sig, err := id.Key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("sign with %s: %w", describeCert(id.Cert), err)
	}
	sha := pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue}
	si, err := asn1.Marshal(struct {
		Version         int
		IAS             issuerAndSerial
		DigestAlgorithm pkix.AlgorithmIdentifier
		AuthAttrs       asn1.RawValue
		SigAlgorithm    pkix.AlgorithmIdentifier
		Signature       []byte
	}{1, issuerAndSerial{Issuer: asn1.RawValue{FullBytes: id.Cert.RawIssuer}, Serial: id.Cert.SerialNumber}, sha,
		asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: joined},
		pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption, Parameters: asn1.NullRawValue}, sig})
	if err != nil {
		return nil, err
	}
	sd, err := asn1.Marshal(struct {
		Version          int
		DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
		ContentInfo      contentInfo
		Certificates     asn1.RawValue
		SignerInfos      []asn1.RawValue `asn1:"set"`
	}{1, []pkix.AlgorithmIdentifier{sha}, contentInfo{ContentType: oidData},
		asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: id.Cert.Raw},
		[]asn1.RawValue{{FullBytes: si}}})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(contentInfo{ContentType: oidSignedData, Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sd}})
}

var (
	oidAttrContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningTime   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
)

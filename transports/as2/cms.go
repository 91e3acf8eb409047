package as2

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
)

// This file holds the CMS (RFC 5652) content types Wharf handles itself:
// EnvelopedData and AuthEnvelopedData (RFC 5083/5084, AES-GCM) both ways,
// CompressedData (RFC 3274, zlib) both ways, and BER to DER normalisation.
// smallstep/pkcs7 handles SignedData (sign.go); its AES-GCM output is
// malformed and it knows neither AES-192 nor CompressedData, hence this.

var (
	oidData               = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidEnvelopedData      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 3}
	oidAuthEnvelopedData  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 23}
	oidCompressedData     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 9}
	oidZlib               = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 3, 8}
	oidRSAEncryption      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSAOAEP            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 7}
	oidMGF1               = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidSHA1               = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256             = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384             = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512             = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidDESEDE3CBC         = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
	oidAES128CBC          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidAES128GCM          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 6}
	oidAES192GCM          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 26}
	oidAES256GCM          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 46}
	errNoRecipient        = errors.New("no recipient info addresses Wharf's certificate, and Wharf's key opens none")
	errUnsupportedContent = errors.New("unsupported CMS content type")
)

// Cipher names a content-encryption algorithm for Encrypt.
type Cipher string

// Ciphers Wharf encrypts with (it decrypts these and 3DES).
const (
	AES128CBC Cipher = "aes128-cbc"
	AES192CBC Cipher = "aes192-cbc"
	AES256CBC Cipher = "aes256-cbc"
	AES128GCM Cipher = "aes128-gcm"
	AES256GCM Cipher = "aes256-gcm"
)

var cipherOIDs = map[Cipher]asn1.ObjectIdentifier{
	AES128CBC: oidAES128CBC, AES192CBC: oidAES192CBC, AES256CBC: oidAES256CBC,
	AES128GCM: oidAES128GCM, AES256GCM: oidAES256GCM,
}

// ValidCipher reports whether Encrypt knows c.
func ValidCipher(c Cipher) bool { _, ok := cipherOIDs[c]; return ok }

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type keyTransRecipientInfo struct {
	Version                int
	RID                    asn1.RawValue
	KeyEncryptionAlgorithm pkix.AlgorithmIdentifier
	EncryptedKey           []byte
}

type encryptedContentInfo struct {
	ContentType                asn1.ObjectIdentifier
	ContentEncryptionAlgorithm pkix.AlgorithmIdentifier
	EncryptedContent           asn1.RawValue `asn1:"optional,tag:0"`
}

type envelopedData struct {
	Version              int
	RecipientInfos       []asn1.RawValue `asn1:"set"`
	EncryptedContentInfo encryptedContentInfo
	UnprotectedAttrs     asn1.RawValue `asn1:"optional,tag:1"`
}

type authEnvelopedData struct {
	Version                  int
	RecipientInfos           []asn1.RawValue `asn1:"set"`
	AuthEncryptedContentInfo encryptedContentInfo
	AuthAttrs                asn1.RawValue `asn1:"optional,tag:1"`
	MAC                      []byte
	UnauthAttrs              asn1.RawValue `asn1:"optional,tag:2"`
}

type gcmParameters struct {
	Nonce  []byte
	ICVLen int `asn1:"default:12,optional"`
}

type oaepParams struct {
	Hash       pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:0"`
	MGF        pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:1"`
	PSourceRaw asn1.RawValue            `asn1:"optional,explicit,tag:2"`
}

type compressedData struct {
	Version              int
	CompressionAlgorithm pkix.AlgorithmIdentifier
	EncapContentInfo     contentInfo
}

// parseContentInfo normalises BER to DER and reads the outer ContentInfo.
func parseContentInfo(der []byte) (*contentInfo, error) {
	der, err := BERToDER(der)
	if err != nil {
		return nil, err
	}
	var ci contentInfo
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil {
		return nil, fmt.Errorf("cms: %w", err)
	}
	if len(bytes.TrimRight(rest, "\x00")) > 0 {
		return nil, errors.New("cms: trailing data after ContentInfo")
	}
	return &ci, nil
}

// ContentType returns the CMS content type of a DER or BER ContentInfo.
func ContentType(b []byte) (asn1.ObjectIdentifier, error) {
	ci, err := parseContentInfo(b)
	if err != nil {
		return nil, err
	}
	return ci.ContentType, nil
}

// Decrypted describes how a message was encrypted.
type Decrypted struct {
	Content   []byte
	Algorithm string // e.g. aes256-cbc, aes128-gcm, des-ede3-cbc
	KeyWrap   string // rsa-pkcs1v15 or rsa-oaep-sha256, ...
}

// Decrypt opens EnvelopedData or AuthEnvelopedData addressed to cert with key.
func Decrypt(b []byte, cert *x509.Certificate, key crypto.Decrypter) (*Decrypted, error) {
	ci, err := parseContentInfo(b)
	if err != nil {
		return nil, err
	}
	var (
		recips []asn1.RawValue
		eci    encryptedContentInfo
		mac    []byte
		aad    []byte
		auth   bool
	)
	switch {
	case ci.ContentType.Equal(oidEnvelopedData):
		var ed envelopedData
		if _, err := asn1.Unmarshal(ci.Content.Bytes, &ed); err != nil {
			return nil, fmt.Errorf("cms: enveloped data: %w", err)
		}
		recips, eci = ed.RecipientInfos, ed.EncryptedContentInfo
	case ci.ContentType.Equal(oidAuthEnvelopedData):
		var ad authEnvelopedData
		if _, err := asn1.Unmarshal(ci.Content.Bytes, &ad); err != nil {
			return nil, fmt.Errorf("cms: auth-enveloped data: %w", err)
		}
		recips, eci, mac, auth = ad.RecipientInfos, ad.AuthEncryptedContentInfo, ad.MAC, true
		if len(ad.AuthAttrs.FullBytes) > 0 {
			// The AAD is the DER of the attributes with the SET OF tag.
			aad = append([]byte{0x31}, ad.AuthAttrs.FullBytes[1:]...)
		}
	default:
		return nil, fmt.Errorf("cms: %w %v (want enveloped data)", errUnsupportedContent, ci.ContentType)
	}
	ct := octets(eci.EncryptedContent)
	alg := eci.ContentEncryptionAlgorithm
	keyLen, name, err := contentKeyLen(alg.Algorithm)
	if err != nil {
		return nil, err
	}
	ordered := keyTransRecipients(recips, cert)
	var lastErr error = errNoRecipient
	for _, k := range ordered {
		cek, wrap, err := unwrapKey(k, key, keyLen)
		if err != nil {
			lastErr = err
			continue
		}
		var pt []byte
		if auth {
			pt, err = openGCM(cek, alg, ct, mac, aad)
		} else {
			pt, err = openCBC(cek, alg, ct)
		}
		if err != nil {
			lastErr = err
			continue
		}
		return &Decrypted{Content: pt, Algorithm: name, KeyWrap: wrap}, nil
	}
	return nil, fmt.Errorf("cms: %w", lastErr)
}

// octets returns the content of an [0] IMPLICIT OCTET STRING, primitive or
// constructed (BERToDER leaves constructed context-tagged ones alone).
func octets(v asn1.RawValue) []byte {
	if !v.IsCompound {
		return v.Bytes
	}
	var out []byte
	rest := v.Bytes
	for len(rest) > 0 {
		var part asn1.RawValue
		var err error
		rest, err = asn1.Unmarshal(rest, &part)
		if err != nil {
			break
		}
		out = append(out, octets(part)...)
	}
	return out
}

func addresses(rid asn1.RawValue, cert *x509.Certificate) bool {
	if cert == nil {
		return false
	}
	if rid.Class == asn1.ClassContextSpecific && rid.Tag == 0 {
		return len(cert.SubjectKeyId) > 0 && bytes.Equal(rid.Bytes, cert.SubjectKeyId)
	}
	var ias issuerAndSerial
	if _, err := asn1.Unmarshal(rid.FullBytes, &ias); err != nil {
		return false
	}
	return bytes.Equal(ias.Issuer.FullBytes, cert.RawIssuer) && ias.Serial.Cmp(cert.SerialNumber) == 0
}

func contentKeyLen(oid asn1.ObjectIdentifier) (int, string, error) {
	switch {
	case oid.Equal(oidAES128CBC):
		return 16, "aes128-cbc", nil
	case oid.Equal(oidAES192CBC):
		return 24, "aes192-cbc", nil
	case oid.Equal(oidAES256CBC):
		return 32, "aes256-cbc", nil
	case oid.Equal(oidAES128GCM):
		return 16, "aes128-gcm", nil
	case oid.Equal(oidAES192GCM):
		return 24, "aes192-gcm", nil
	case oid.Equal(oidAES256GCM):
		return 32, "aes256-gcm", nil
	case oid.Equal(oidDESEDE3CBC):
		return 24, "des-ede3-cbc", nil
	}
	return 0, "", fmt.Errorf("cms: content encryption algorithm %v is not supported (use AES-CBC, AES-GCM or 3DES)", oid)
}

func hashByOID(oid asn1.ObjectIdentifier) (crypto.Hash, string, bool) {
	switch {
	case len(oid) == 0, oid.Equal(oidSHA1):
		return crypto.SHA1, "sha1", true
	case oid.Equal(oidSHA256):
		return crypto.SHA256, "sha256", true
	case oid.Equal(oidSHA384):
		return crypto.SHA384, "sha384", true
	case oid.Equal(oidSHA512):
		return crypto.SHA512, "sha512", true
	}
	return 0, "", false
}

func unwrapKey(k keyTransRecipientInfo, key crypto.Decrypter, keyLen int) ([]byte, string, error) {
	if _, ok := key.Public().(*rsa.PublicKey); !ok {
		return nil, "", errors.New("only RSA key transport is supported")
	}
	switch alg := k.KeyEncryptionAlgorithm.Algorithm; {
	case alg.Equal(oidRSAEncryption):
		// Session-key mode: a wrong key yields a random key (no padding
		// oracle), which the content decryption then rejects.
		cek, err := key.Decrypt(rand.Reader, k.EncryptedKey, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: keyLen})
		if err != nil {
			return nil, "", fmt.Errorf("rsa key transport: %w", err)
		}
		return cek, "rsa-pkcs1v15", nil
	case alg.Equal(oidRSAOAEP):
		var p oaepParams
		if len(k.KeyEncryptionAlgorithm.Parameters.FullBytes) > 0 {
			if _, err := asn1.Unmarshal(k.KeyEncryptionAlgorithm.Parameters.FullBytes, &p); err != nil {
				return nil, "", fmt.Errorf("rsa-oaep parameters: %w", err)
			}
		}
		h, name, ok := hashByOID(p.Hash.Algorithm)
		if !ok {
			return nil, "", fmt.Errorf("rsa-oaep hash %v is not supported", p.Hash.Algorithm)
		}
		mgfHash := h
		if p.MGF.Algorithm.Equal(oidMGF1) {
			var inner pkix.AlgorithmIdentifier
			if _, err := asn1.Unmarshal(p.MGF.Parameters.FullBytes, &inner); err == nil {
				if mh, _, ok := hashByOID(inner.Algorithm); ok {
					mgfHash = mh
				}
			}
		} else if len(p.MGF.Algorithm) == 0 {
			mgfHash = crypto.SHA1
		}
		cek, err := key.Decrypt(rand.Reader, k.EncryptedKey, &rsa.OAEPOptions{Hash: h, MGFHash: mgfHash})
		if err != nil {
			return nil, "", fmt.Errorf("rsa-oaep key transport: %w", err)
		}
		if len(cek) != keyLen {
			return nil, "", fmt.Errorf("rsa-oaep key transport: content key is %d bytes, want %d", len(cek), keyLen)
		}
		return cek, "rsa-oaep-" + name, nil
	default:
		return nil, "", fmt.Errorf("key transport %v is not supported (use RSA PKCS#1 v1.5 or OAEP)", alg)
	}
}

// cbcDecrypter is the CBC decryption (AES or 3DES) an EnvelopedData's
// content encryption algorithm names, with its IV.
func cbcDecrypter(cek []byte, alg pkix.AlgorithmIdentifier) (cipher.BlockMode, int, error) {
	var block cipher.Block
	var err error
	if alg.Algorithm.Equal(oidDESEDE3CBC) {
		block, err = des.NewTripleDESCipher(cek)
	} else if alg.Algorithm.Equal(oidAES128CBC) || alg.Algorithm.Equal(oidAES192CBC) || alg.Algorithm.Equal(oidAES256CBC) {
		block, err = aes.NewCipher(cek)
	} else {
		return nil, 0, fmt.Errorf("%v in EnvelopedData: GCM belongs in AuthEnvelopedData (RFC 5083)", alg.Algorithm)
	}
	if err != nil {
		return nil, 0, err
	}
	var iv []byte
	if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &iv); err != nil || len(iv) != block.BlockSize() {
		return nil, 0, errors.New("content encryption IV is malformed")
	}
	return cipher.NewCBCDecrypter(block, iv), block.BlockSize(), nil
}

func openCBC(cek []byte, alg pkix.AlgorithmIdentifier, ct []byte) ([]byte, error) {
	mode, bs, err := cbcDecrypter(cek, alg)
	if err != nil {
		return nil, err
	}
	if len(ct) == 0 || len(ct)%bs != 0 {
		return nil, errors.New("ciphertext is not a whole number of blocks")
	}
	pt := make([]byte, len(ct))
	mode.CryptBlocks(pt, ct)
	n := int(pt[len(pt)-1])
	if n == 0 || n > bs {
		return nil, errors.New("bad padding (wrong key or corrupted content)")
	}
	for _, b := range pt[len(pt)-n:] {
		if int(b) != n {
			return nil, errors.New("bad padding (wrong key or corrupted content)")
		}
	}
	return pt[:len(pt)-n], nil
}

// gcmParams checks that an AuthEnvelopedData's algorithm is AES-GCM and
// returns its parameters (the tag length defaults to 12, as RFC 5084 says).
func gcmParams(alg pkix.AlgorithmIdentifier) (gcmParameters, error) {
	var p gcmParameters
	if !(alg.Algorithm.Equal(oidAES128GCM) || alg.Algorithm.Equal(oidAES192GCM) || alg.Algorithm.Equal(oidAES256GCM)) {
		return p, fmt.Errorf("%v in AuthEnvelopedData: only AES-GCM is supported", alg.Algorithm)
	}
	if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &p); err != nil {
		return p, fmt.Errorf("gcm parameters: %w", err)
	}
	if p.ICVLen == 0 {
		p.ICVLen = 12
	}
	return p, nil
}

func openGCM(cek []byte, alg pkix.AlgorithmIdentifier, ct, mac, aad []byte) ([]byte, error) {
	p, err := gcmParams(alg)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	if len(mac) != p.ICVLen {
		return nil, fmt.Errorf("gcm tag is %d bytes, parameters say %d", len(mac), p.ICVLen)
	}
	g, err := cipher.NewGCMWithNonceSize(block, len(p.Nonce))
	if err != nil {
		return nil, err
	}
	if p.ICVLen != g.Overhead() {
		g, err = cipher.NewGCMWithTagSize(block, p.ICVLen)
		if err != nil || len(p.Nonce) != g.NonceSize() {
			return nil, errors.New("gcm: unsupported nonce and tag size combination")
		}
	}
	pt, err := g.Open(nil, p.Nonce, append(append([]byte{}, ct...), mac...), aad)
	if err != nil {
		return nil, errors.New("gcm authentication failed (wrong key or altered content)")
	}
	return pt, nil
}

// KeyWrap names an RSA key transport for Encrypt.
type KeyWrap string

// Key transports.
const (
	RSAPKCS1v15   KeyWrap = "rsa-pkcs1v15"
	RSAOAEPSHA256 KeyWrap = "rsa-oaep-sha256"
)

// Encrypt wraps content for the recipients: EnvelopedData for CBC,
// AuthEnvelopedData for GCM. The output is DER.
func Encrypt(content []byte, recipients []*x509.Certificate, c Cipher, wrap KeyWrap) ([]byte, error) {
	k, err := newContentKey(recipients, c, wrap)
	if err != nil {
		return nil, err
	}
	oid, block, recips, params := k.oid, k.block, k.recips, k.params
	var inner []byte
	var ctype asn1.ObjectIdentifier
	if k.gcm {
		g, _ := cipher.NewGCM(block)
		sealed := g.Seal(nil, k.nonce, content, nil)
		ct, tag := sealed[:len(sealed)-16], sealed[len(sealed)-16:]
		inner, err = asn1.Marshal(authEnvelopedData{
			RecipientInfos: recips,
			AuthEncryptedContentInfo: encryptedContentInfo{ContentType: oidData,
				ContentEncryptionAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.RawValue{FullBytes: params}},
				EncryptedContent:           asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: ct}},
			MAC: tag,
		})
		ctype = oidAuthEnvelopedData
	} else {
		n := 16 - len(content)%16
		padded := make([]byte, len(content)+n)
		copy(padded, content)
		for i := len(content); i < len(padded); i++ {
			padded[i] = byte(n)
		}
		cipher.NewCBCEncrypter(block, k.iv).CryptBlocks(padded, padded)
		inner, err = asn1.Marshal(envelopedData{
			RecipientInfos: recips,
			EncryptedContentInfo: encryptedContentInfo{ContentType: oidData,
				ContentEncryptionAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.RawValue{FullBytes: params}},
				EncryptedContent:           asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: padded}},
		})
		ctype = oidEnvelopedData
	}
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(contentInfo{ContentType: ctype, Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}})
}

// contentKey is what encrypting one message needs: a fresh content key
// (as its AES block) wrapped for each recipient, and a fresh GCM nonce or
// CBC IV with its DER parameters.
type contentKey struct {
	oid       asn1.ObjectIdentifier
	gcm       bool
	block     cipher.Block
	recips    []asn1.RawValue
	nonce, iv []byte // GCM's nonce or CBC's IV
	params    []byte // the algorithm parameters: GCMParameters or the IV, DER
}

// newContentKey draws a content key, nonce or IV for cipher c and wraps the
// key for the recipients: shared by Encrypt and the streaming encryptor.
func newContentKey(recipients []*x509.Certificate, c Cipher, wrap KeyWrap) (*contentKey, error) {
	oid, ok := cipherOIDs[c]
	if !ok {
		return nil, fmt.Errorf("cms: unknown cipher %q", c)
	}
	keyLen, _, _ := contentKeyLen(oid)
	cek := make([]byte, keyLen)
	if _, err := rand.Read(cek); err != nil {
		return nil, err
	}
	recips, err := recipientInfos(cek, recipients, wrap)
	if err != nil {
		return nil, err
	}
	k := &contentKey{oid: oid, gcm: c == AES128GCM || c == AES256GCM, recips: recips}
	k.block, _ = aes.NewCipher(cek)
	if k.gcm {
		k.nonce = make([]byte, 12)
		if _, err := rand.Read(k.nonce); err != nil {
			return nil, err
		}
		k.params, _ = asn1.Marshal(gcmParameters{Nonce: k.nonce, ICVLen: 16})
	} else {
		k.iv = make([]byte, 16)
		if _, err := rand.Read(k.iv); err != nil {
			return nil, err
		}
		k.params, _ = asn1.Marshal(k.iv)
	}
	return k, nil
}

// recipientInfos wraps the content key for each recipient (key transport).
func recipientInfos(cek []byte, recipients []*x509.Certificate, wrap KeyWrap) ([]asn1.RawValue, error) {
	var recips []asn1.RawValue
	for _, rc := range recipients {
		pub, ok := rc.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("cms: recipient %s: only RSA certificates are supported", rc.Subject)
		}
		var ek []byte
		var kea pkix.AlgorithmIdentifier
		var err error
		switch wrap {
		case "", RSAPKCS1v15:
			ek, err = rsa.EncryptPKCS1v15(rand.Reader, pub, cek)
			kea = pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption, Parameters: asn1.NullRawValue}
		case RSAOAEPSHA256:
			ek, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, cek, nil)
			sha := pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue}
			shaDER, _ := asn1.Marshal(sha)
			params, _ := asn1.Marshal(struct {
				Hash pkix.AlgorithmIdentifier `asn1:"explicit,tag:0"`
				MGF  pkix.AlgorithmIdentifier `asn1:"explicit,tag:1"`
			}{sha, pkix.AlgorithmIdentifier{Algorithm: oidMGF1, Parameters: asn1.RawValue{FullBytes: shaDER}}})
			kea = pkix.AlgorithmIdentifier{Algorithm: oidRSAOAEP, Parameters: asn1.RawValue{FullBytes: params}}
		default:
			return nil, fmt.Errorf("cms: unknown key transport %q", wrap)
		}
		if err != nil {
			return nil, fmt.Errorf("cms: wrap key for %s: %w", rc.Subject, err)
		}
		ias, _ := asn1.Marshal(issuerAndSerial{Issuer: asn1.RawValue{FullBytes: rc.RawIssuer}, Serial: rc.SerialNumber})
		ri, err := asn1.Marshal(keyTransRecipientInfo{RID: asn1.RawValue{FullBytes: ias}, KeyEncryptionAlgorithm: kea, EncryptedKey: ek})
		if err != nil {
			return nil, err
		}
		recips = append(recips, asn1.RawValue{FullBytes: ri})
	}
	return recips, nil
}

// Decompress opens CompressedData (RFC 3274, zlib), DER or BER, in
// memory: at most DefaultMaxDecompressed bytes of content, more fails with
// ErrDecompressLimit (the endpoint streams with DecompressStream instead).
func Decompress(b []byte) ([]byte, error) {
	ci, err := parseContentInfo(b)
	if err != nil {
		return nil, err
	}
	if !ci.ContentType.Equal(oidCompressedData) {
		return nil, fmt.Errorf("cms: %w %v (want compressed data)", errUnsupportedContent, ci.ContentType)
	}
	var cd compressedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &cd); err != nil {
		return nil, fmt.Errorf("cms: compressed data: %w", err)
	}
	if !cd.CompressionAlgorithm.Algorithm.Equal(oidZlib) {
		return nil, fmt.Errorf("cms: compression algorithm %v is not zlib", cd.CompressionAlgorithm.Algorithm)
	}
	var z []byte
	if _, err := asn1.Unmarshal(cd.EncapContentInfo.Content.Bytes, &z); err != nil {
		return nil, fmt.Errorf("cms: compressed content: %w", err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("cms: zlib: %w", err)
	}
	var out bytes.Buffer
	n, err := io.Copy(&out, io.LimitReader(zr, DefaultMaxDecompressed+1))
	if err != nil {
		return nil, fmt.Errorf("cms: zlib: %w", err)
	}
	if n > DefaultMaxDecompressed {
		return nil, fmt.Errorf("cms: %w of %d bytes", ErrDecompressLimit, int64(DefaultMaxDecompressed))
	}
	return out.Bytes(), nil
}

// Compress makes CompressedData (zlib), DER.
func Compress(content []byte) ([]byte, error) {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	if _, err := zw.Write(content); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	oct, _ := asn1.Marshal(z.Bytes())
	inner, err := asn1.Marshal(compressedData{
		CompressionAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oidZlib},
		EncapContentInfo:     contentInfo{ContentType: oidData, Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: oct}},
	})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(contentInfo{ContentType: oidCompressedData, Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}})
}

// newHash returns the hash for an AS2 MIC algorithm name (sha256, sha-256, ...).
func newHash(name string) (hash.Hash, string, bool) {
	switch name {
	case "sha1", "sha-1":
		return sha1.New(), "sha1", true
	case "sha256", "sha-256":
		return sha256.New(), "sha-256", true
	case "sha384", "sha-384":
		return sha512.New384(), "sha-384", true
	case "sha512", "sha-512":
		return sha512.New(), "sha-512", true
	}
	return nil, "", false
}

// keyTransRecipients returns the key transport recipient infos (others,
// such as kari and kekri, are skipped), the one naming cert first, so that
// decryption tries our own recipient before the others.
func keyTransRecipients(recips []asn1.RawValue, cert *x509.Certificate) []keyTransRecipientInfo {
	var ordered []keyTransRecipientInfo
	for _, r := range recips {
		var k keyTransRecipientInfo
		if _, err := asn1.Unmarshal(r.FullBytes, &k); err != nil {
			continue // not a key transport recipient (kari, kekri, ...)
		}
		if addresses(k.RID, cert) {
			ordered = append([]keyTransRecipientInfo{k}, ordered...)
		} else {
			ordered = append(ordered, k)
		}
	}
	return ordered
}

package as2

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Files of Wharf's generated AS2 identity inside the data folder.
const (
	IdentityKeyFile  = "as2_key.pem"
	IdentityCertFile = "as2_cert.pem"
)

// GenerateIdentity makes an RSA-3072 key and a self-signed certificate
// valid for validity (AS2 partners pin certificates; no CA is involved).
func GenerateIdentity(as2ID string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now().UTC().Add(-time.Hour)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: as2ID, Organization: []string{"Wharf AS2"}},
		NotBefore:    now,
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// ParseCertificates reads every CERTIFICATE block of a PEM file's content.
func ParseCertificates(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block found")
	}
	return out, nil
}

// ParsePrivateKey reads an RSA private key (PKCS#8 or PKCS#1 PEM).
func ParsePrivateKey(b []byte) (crypto.Signer, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("no PEM private key block found")
		}
		switch blk.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, err
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("the key is %T: AS2 needs an RSA key", k)
			}
			return rk, nil
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(blk.Bytes)
		}
	}
}

// LoadIdentity reads a certificate and key from PEM files and checks that
// they belong together.
func LoadIdentity(as2ID, certFile, keyFile string) (*Identity, error) {
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("as2 certificate: %w", err)
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("as2 key: %w", err)
	}
	certs, err := ParseCertificates(cb)
	if err != nil {
		return nil, fmt.Errorf("as2 certificate %s: %w", certFile, err)
	}
	key, err := ParsePrivateKey(kb)
	if err != nil {
		return nil, fmt.Errorf("as2 key %s: %w", keyFile, err)
	}
	pub, ok := certs[0].PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(key.Public()) {
		return nil, fmt.Errorf("as2 key %s does not belong to the certificate in %s", keyFile, certFile)
	}
	return &Identity{AS2ID: as2ID, Cert: certs[0], Key: key}, nil
}

// LoadOrCreateIdentity returns the identity kept in dir, generating it on
// first use (like the SSH host key): partners pin the certificate, so it
// stays until an operator replaces it.
func LoadOrCreateIdentity(dir, as2ID string) (*Identity, error) {
	certFile, keyFile := filepath.Join(dir, IdentityCertFile), filepath.Join(dir, IdentityKeyFile)
	if _, err := os.Stat(keyFile); err == nil {
		return LoadIdentity(as2ID, certFile, keyFile)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("as2 key: %w", err)
	}
	certPEM, keyPEM, err := GenerateIdentity(as2ID, 5*365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	// The certificate first, the key last and by link: two processes racing
	// on first start end with one pair (the loser reads the winner's).
	if err := writeNew(dir, certFile, certPEM, 0o644, true); err != nil {
		return nil, err
	}
	if err := writeNew(dir, keyFile, keyPEM, 0o600, false); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return LoadIdentity(as2ID, certFile, keyFile)
		}
		return nil, err
	}
	return LoadIdentity(as2ID, certFile, keyFile)
}

// writeNew writes b to path through a fsync'd temporary file; replace
// renames over an existing file, otherwise an existing file wins (fs.ErrExist).
func writeNew(dir, path string, b []byte, mode os.FileMode, replace bool) error {
	tmp, err := os.CreateTemp(dir, ".as2-*")
	if err != nil {
		return fmt.Errorf("as2 identity: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if replace {
		return os.Rename(tmp.Name(), path)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("as2 identity: %w", err)
	}
	return nil
}

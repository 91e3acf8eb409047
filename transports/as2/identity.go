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

	"github.com/wharfedi/wharf/internal/durable"
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
	if err := durable.WriteFile(certFile, certPEM, 0o644); err != nil {
		return nil, err
	}
	if err := durable.CreateFile(keyFile, keyPEM, 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return LoadIdentity(as2ID, certFile, keyFile)
		}
		return nil, err
	}
	return LoadIdentity(as2ID, certFile, keyFile)
}

// A rotation of Wharf's own AS2 certificate keeps up to two more key pairs
// beside the current one, in the folder of the current key file, so that
// nothing encrypted to either certificate goes undecryptable while
// partners switch:
//
//   - next (as2_next_cert.pem, as2_next_key.pem): made by PrepareRotation
//     and handed to partners; Wharf already decrypts with it but still
//     signs with the current key;
//   - previous (as2_prev_*.pem): the key ActivateRotation retired, still
//     decrypting what partners encrypted to the old certificate.
const (
	NextCertFile = "as2_next_cert.pem"
	NextKeyFile  = "as2_next_key.pem"
	PrevCertFile = "as2_prev_cert.pem"
	PrevKeyFile  = "as2_prev_key.pem"
)

// RotationKeys loads the next and the previous identity kept in dir (those
// that exist), for decryption beside the current one.
func RotationKeys(dir, as2ID string) ([]*Identity, error) {
	var out []*Identity
	for _, f := range [][2]string{{NextCertFile, NextKeyFile}, {PrevCertFile, PrevKeyFile}} {
		cert, key := filepath.Join(dir, f[0]), filepath.Join(dir, f[1])
		if _, err := os.Stat(key); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		id, err := LoadIdentity(as2ID, cert, key)
		if err != nil {
			return nil, fmt.Errorf("as2 rotation: %w", err)
		}
		out = append(out, id)
	}
	return out, nil
}

// PrepareRotation makes the next key pair in dir (the folder of the current
// key) unless one is there already, and returns it.
func PrepareRotation(dir, as2ID string, validity time.Duration) (*Identity, error) {
	cert, key := filepath.Join(dir, NextCertFile), filepath.Join(dir, NextKeyFile)
	if _, err := os.Stat(key); err == nil {
		return LoadIdentity(as2ID, cert, key)
	}
	certPEM, keyPEM, err := GenerateIdentity(as2ID, validity)
	if err != nil {
		return nil, err
	}
	if err := durable.WriteFile(cert, certPEM, 0o644); err != nil {
		return nil, err
	}
	if err := durable.WriteFile(key, keyPEM, 0o600); err != nil {
		return nil, err
	}
	return LoadIdentity(as2ID, cert, key)
}

// ActivateRotation makes the next key pair the current one (certFile,
// keyFile) and keeps the current one as the previous, in dir. The current
// pair is copied to the previous names before the next pair is renamed
// over it, so a crash between steps loses no key.
func ActivateRotation(dir, certFile, keyFile string) error {
	nextCert, nextKey := filepath.Join(dir, NextCertFile), filepath.Join(dir, NextKeyFile)
	if _, err := os.Stat(nextKey); err != nil {
		return fmt.Errorf("as2 rotation: no next key in %s to activate (prepare one first): %w", dir, err)
	}
	for _, cp := range []struct {
		from, to string
		mode     os.FileMode
	}{{certFile, filepath.Join(dir, PrevCertFile), 0o644}, {keyFile, filepath.Join(dir, PrevKeyFile), 0o600}} {
		b, err := os.ReadFile(cp.from)
		if err != nil {
			return fmt.Errorf("as2 rotation: %w", err)
		}
		if err := durable.WriteFile(cp.to, b, cp.mode); err != nil {
			return fmt.Errorf("as2 rotation: %w", err)
		}
	}
	if err := os.Rename(nextCert, certFile); err != nil {
		return fmt.Errorf("as2 rotation: %w", err)
	}
	if err := os.Rename(nextKey, keyFile); err != nil {
		return fmt.Errorf("as2 rotation: %w", err)
	}
	return durable.SyncDir(dir)
}

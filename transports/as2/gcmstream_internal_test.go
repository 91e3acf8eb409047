package as2

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"testing"
)

// The streaming GCM opener agrees with crypto/cipher's AEAD for every
// length around block edges, standard and odd nonce sizes, short tags,
// with and without AAD, and rejects a flipped bit.
func TestGCMOpenerMatchesStdlib(t *testing.T) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, _ := aes.NewCipher(key)
	for _, nonceLen := range []int{12, 8, 16} {
		for _, tagLen := range []int{16, 12} {
			for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 4095, 70001} {
				for _, aadLen := range []int{0, 5, 40} {
					var g cipher.AEAD
					var err error
					switch {
					case nonceLen != 12:
						g, err = cipher.NewGCMWithNonceSize(block, nonceLen)
					case tagLen != 16:
						g, err = cipher.NewGCMWithTagSize(block, tagLen)
					default:
						g, err = cipher.NewGCM(block)
					}
					if err != nil || (nonceLen != 12 && tagLen != 16) {
						continue
					}
					nonce, pt, aad := make([]byte, nonceLen), make([]byte, n), make([]byte, aadLen)
					_, _ = rand.Read(nonce)
					_, _ = rand.Read(pt)
					_, _ = rand.Read(aad)
					sealed := g.Seal(nil, nonce, pt, aad)
					ct, tag := sealed[:n], sealed[n:]
					var out bytes.Buffer
					o, err := newGCMOpener(block, nonce, aad, tag, &out)
					if err != nil {
						t.Fatal(err)
					}
					// Odd write sizes cross block edges.
					for rest := ct; len(rest) > 0; {
						k := min(len(rest), 7+len(rest)%13)
						if _, err := o.Write(rest[:k]); err != nil {
							t.Fatal(err)
						}
						rest = rest[k:]
					}
					if err := o.Close(); err != nil {
						t.Fatalf("nonce %d tag %d len %d aad %d: %v", nonceLen, tagLen, n, aadLen, err)
					}
					if !bytes.Equal(out.Bytes(), pt) {
						t.Fatalf("nonce %d tag %d len %d: plaintext differs", nonceLen, tagLen, n)
					}
					if n > 0 {
						bad := append([]byte{}, ct...)
						bad[n/2] ^= 1
						o, _ := newGCMOpener(block, nonce, aad, tag, &bytes.Buffer{})
						_, _ = o.Write(bad)
						if o.Close() == nil {
							t.Fatalf("len %d: a flipped bit verified", n)
						}
					}
				}
			}
		}
	}
}

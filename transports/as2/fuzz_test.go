package as2_test

import (
	"testing"
	"time"

	"github.com/wharfedi/wharf/transports/as2"
)

// FuzzBERToDER: BER from partners (BouncyCastle streams it) never panics
// the converter, and what it accepts is a fixed point.
func FuzzBERToDER(f *testing.F) {
	f.Add([]byte{0x30, 0x80, 0x04, 0x80, 0x04, 0x01, 'a', 0x00, 0x00, 0x00, 0x00})
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x05})
	f.Add([]byte{0x24, 0x80, 0x04, 0x02, 'h', 'i', 0x04, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		der, err := as2.BERToDER(b)
		if err != nil {
			return
		}
		again, err := as2.BERToDER(der)
		if err != nil || string(again) != string(der) {
			t.Fatalf("not a fixed point: %x -> %x (%v)", der, again, err)
		}
	})
}

// FuzzParseMDN: MDNs posted to /as2 by anyone never panic the parser.
func FuzzParseMDN(f *testing.F) {
	f.Add([]byte("Content-Type: multipart/report; report-type=disposition-notification; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: message/disposition-notification\r\n\r\n" +
		"Original-Message-ID: <1@x>\r\nReceived-Content-MIC: abc=, sha-256\r\nDisposition: automatic-action/MDN-sent-automatically; processed/error: decryption-failed\r\n\r\n--b--\r\n"))
	f.Add([]byte("Content-Type: multipart/signed; boundary=s\n\n--s\nContent-Type: multipart/report; boundary=r\n\n--r--\n--s\n\nMIIB\n--s--\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := as2.ParseEntity(b)
		if err != nil {
			return
		}
		_, _ = as2.ParseMDN(e, nil, time.Now())
	})
}

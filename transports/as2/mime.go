package as2

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/textproto"
	"strings"
)

// Entity is a MIME entity that keeps its exact bytes: Raw is the headers,
// the blank line and the body as received, which is what signatures and
// MICs cover. Header is parsed from Raw; Body is Raw after the blank line,
// still in its transfer encoding.
type Entity struct {
	Raw    []byte
	Header textproto.MIMEHeader
	Body   []byte
}

// ParseEntity splits raw into headers and body. It accepts CRLF and bare
// LF line ends and folded header lines.
func ParseEntity(raw []byte) (*Entity, error) {
	end, bodyAt := headerEnd(raw)
	if end < 0 {
		return nil, errors.New("mime: no blank line after the headers")
	}
	h := textproto.MIMEHeader{}
	lines := strings.Split(strings.ReplaceAll(string(raw[:end]), "\r\n", "\n"), "\n")
	var cur string
	flush := func() error {
		if cur == "" {
			return nil
		}
		k, v, ok := strings.Cut(cur, ":")
		if !ok {
			return fmt.Errorf("mime: header line %q has no colon", trunc(cur))
		}
		h.Add(textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(k)), strings.TrimSpace(v))
		cur = ""
		return nil
	}
	for _, l := range lines {
		if l == "" {
			continue
		}
		if (l[0] == ' ' || l[0] == '\t') && cur != "" {
			cur += " " + strings.TrimSpace(l)
			continue
		}
		if err := flush(); err != nil {
			return nil, err
		}
		cur = l
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return &Entity{Raw: raw, Header: h, Body: raw[bodyAt:]}, nil
}

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// headerEnd finds the blank line: the end of the header block and where
// the body starts. A leading blank line means no headers.
func headerEnd(raw []byte) (int, int) {
	if bytes.HasPrefix(raw, []byte("\r\n")) {
		return 0, 2
	}
	if bytes.HasPrefix(raw, []byte("\n")) {
		return 0, 1
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\n' {
			continue
		}
		if i+1 < len(raw) && raw[i+1] == '\n' {
			return i, i + 2
		}
		if i+2 < len(raw) && raw[i+1] == '\r' && raw[i+2] == '\n' {
			return i, i + 3
		}
	}
	return -1, -1
}

// MediaType returns the entity's lower-case media type and parameters.
func (e *Entity) MediaType() (string, map[string]string) {
	mt, params, err := mime.ParseMediaType(e.Header.Get("Content-Type"))
	if err != nil {
		// Be lenient: take what precedes the first ';'.
		mt, _, _ = strings.Cut(e.Header.Get("Content-Type"), ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	if mt == "" {
		mt = "text/plain"
	}
	return mt, params
}

// Decoded returns the body with its Content-Transfer-Encoding removed
// (base64; binary, 8bit and 7bit pass through). Quoted-printable is not
// used for AS2 payloads and is refused.
func (e *Entity) Decoded() ([]byte, error) {
	return decodeCTE(e.Header.Get("Content-Transfer-Encoding"), e.Body)
}

func decodeCTE(cte string, body []byte) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "", "binary", "8bit", "7bit":
		return body, nil
	case "base64":
		clean := make([]byte, 0, len(body))
		for _, c := range body {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				clean = append(clean, c)
			}
		}
		// Room for the unpadded reading too (its length is never less):
		// "10" decodes to one byte without padding, none with.
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, err := base64.StdEncoding.Decode(out, clean)
		if err != nil {
			// Some senders drop the padding.
			n, err = base64.RawStdEncoding.Decode(out, bytes.TrimRight(clean, "="))
			if err != nil {
				return nil, fmt.Errorf("mime: base64 body: %w", err)
			}
		}
		return out[:n], nil
	}
	return nil, fmt.Errorf("mime: content-transfer-encoding %q is not supported (use binary or base64)", cte)
}

// looksBase64 tells whether a body that should be binary DER is in fact
// base64 text (some senders omit Content-Transfer-Encoding).
func looksBase64(b []byte) bool {
	if len(b) == 0 || b[0] == 0x30 {
		return false
	}
	for _, c := range b[:min(len(b), 256)] {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' || c == '\r' || c == '\n') {
			return false
		}
	}
	return true
}

// Parts splits a multipart body into its parts' exact bytes. The line end
// before each delimiter belongs to the delimiter (RFC 2046), so a part is
// what lies between the end of one delimiter line and the line end
// preceding the next.
func Parts(body []byte, boundary string) ([][]byte, error) {
	if boundary == "" {
		return nil, errors.New("mime: multipart without a boundary")
	}
	delim := []byte("--" + boundary)
	var parts [][]byte
	start := -1
	pos := 0
	for pos <= len(body) {
		i := bytes.Index(body[pos:], delim)
		if i < 0 {
			break
		}
		i += pos
		atLineStart := i == 0 || body[i-1] == '\n'
		if !atLineStart {
			pos = i + len(delim)
			continue
		}
		after := i + len(delim)
		closing := bytes.HasPrefix(body[after:], []byte("--"))
		// The rest of the delimiter line (transport padding) must be blank.
		eol := bytes.IndexByte(body[after:], '\n')
		if start >= 0 {
			end := i
			if end > 0 && body[end-1] == '\n' {
				end--
				if end > 0 && body[end-1] == '\r' {
					end--
				}
			}
			if end < start {
				end = start
			}
			parts = append(parts, body[start:end])
		}
		if closing {
			return parts, nil
		}
		if eol < 0 {
			return nil, errors.New("mime: truncated multipart body")
		}
		start = after + eol + 1
		pos = start
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("mime: no part delimited by boundary %q", boundary)
	}
	return nil, fmt.Errorf("mime: multipart body with boundary %q has no closing delimiter", boundary)
}

// canonicalCRLF turns bare LF line ends into CRLF (MIME canonical form).
func canonicalCRLF(b []byte) []byte {
	if !bytes.Contains(b, []byte("\n")) {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/40)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

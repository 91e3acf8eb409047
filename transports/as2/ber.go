package as2

import (
	"errors"
	"fmt"
)

// BERToDER rewrites BER (indefinite lengths, constructed OCTET STRINGs, as
// BouncyCastle and others stream them) into DER that encoding/asn1 reads:
// every length becomes definite and every universal constructed OCTET
// STRING becomes one primitive OCTET STRING. Context-specific constructed
// values keep their shape (the caller knows whether they wrap an implicit
// OCTET STRING). Other DER rules (SET ordering) are not enforced: nothing
// here re-hashes what it converts.
func BERToDER(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, errors.New("ber: empty input")
	}
	out := make([]byte, 0, len(b))
	out, n, err := berElement(b, 0, out)
	if err != nil {
		return nil, err
	}
	// Tolerate trailing zero padding (some encoders pad), nothing else.
	for _, c := range b[n:] {
		if c != 0 {
			return nil, fmt.Errorf("ber: %d bytes of trailing data after the first element", len(b)-n)
		}
	}
	return out, nil
}

const berMaxDepth = 64

// berElement converts the element at b[0:] and appends it to out; it returns
// the bytes consumed.
func berElement(b []byte, depth int, out []byte) ([]byte, int, error) {
	if depth > berMaxDepth {
		return nil, 0, errors.New("ber: nesting too deep")
	}
	tagEnd, err := berTagEnd(b)
	if err != nil {
		return nil, 0, err
	}
	tag := b[:tagEnd]
	constructed := b[0]&0x20 != 0
	length, lenEnd, indefinite, err := berLength(b, tagEnd)
	if err != nil {
		return nil, 0, err
	}
	if !constructed {
		if indefinite {
			return nil, 0, errors.New("ber: indefinite length on a primitive value")
		}
		end := lenEnd + length
		out = append(out, tag...)
		out = appendLength(out, length)
		return append(out, b[lenEnd:end]...), end, nil
	}
	// Constructed: convert the children into a scratch buffer first.
	var kids []byte
	pos := lenEnd
	limit := len(b)
	if !indefinite {
		limit = lenEnd + length
	}
	octetString := len(tag) == 1 && tag[0] == 0x24
	for {
		if indefinite {
			if pos+2 > len(b) {
				return nil, 0, errors.New("ber: missing end-of-contents")
			}
			if b[pos] == 0 && b[pos+1] == 0 {
				pos += 2
				break
			}
		} else if pos >= limit {
			break
		}
		var n int
		start := len(kids)
		kids, n, err = berElement(b[pos:limit], depth+1, kids)
		if err != nil {
			return nil, 0, err
		}
		if octetString { // keep only the contents of each chunk
			chunk := kids[start:]
			_, cl, _, err := berLength(chunk, 1)
			if err != nil || chunk[0] != 0x04 {
				return nil, 0, errors.New("ber: constructed OCTET STRING holds a non-OCTET STRING")
			}
			kids = append(kids[:start], chunk[cl:]...)
		}
		pos += n
	}
	if octetString {
		out = append(out, 0x04)
	} else {
		out = append(out, tag...)
	}
	out = appendLength(out, len(kids))
	return append(out, kids...), pos, nil
}

func berTagEnd(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, errors.New("ber: truncated element")
	}
	if b[0]&0x1f != 0x1f {
		return 1, nil
	}
	for i := 1; i < len(b) && i < 6; i++ {
		if b[i]&0x80 == 0 {
			return i + 1, nil
		}
	}
	return 0, errors.New("ber: malformed high tag number")
}

// berLength reads the length at b[i:]: the length, where the content
// starts, and whether it is indefinite.
func berLength(b []byte, i int) (int, int, bool, error) {
	if i >= len(b) {
		return 0, 0, false, errors.New("ber: truncated length")
	}
	l := b[i]
	i++
	if l < 0x80 {
		if i+int(l) > len(b) {
			return 0, 0, false, errors.New("ber: length beyond the input")
		}
		return int(l), i, false, nil
	}
	if l == 0x80 {
		return 0, i, true, nil
	}
	n := int(l & 0x7f)
	if n > 6 || i+n > len(b) {
		return 0, 0, false, errors.New("ber: unsupported length encoding")
	}
	v := 0
	for _, c := range b[i : i+n] {
		v = v<<8 | int(c)
	}
	i += n
	if v < 0 || i+v > len(b) {
		return 0, 0, false, errors.New("ber: length beyond the input")
	}
	return v, i, false, nil
}

func appendLength(out []byte, n int) []byte {
	if n < 0x80 {
		return append(out, byte(n))
	}
	var tmp [8]byte
	i := len(tmp)
	for n > 0 {
		i--
		tmp[i] = byte(n)
		n >>= 8
	}
	out = append(out, 0x80|byte(len(tmp)-i))
	return append(out, tmp[i:]...)
}

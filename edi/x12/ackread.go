package x12

import (
	"errors"
	"io"
	"strconv"
)

// AckEnvelope identifies the interchange an inbound acknowledgment came in.
type AckEnvelope struct {
	SenderQual, SenderID, ReceiverQual, ReceiverID string
	Control                                        string // ISA13 of the ack interchange
}

// TA1Ack is one inbound TA1: the disposition of the interchange it names.
type TA1Ack struct {
	Envelope AckEnvelope
	Control  string // TA101: ISA13 of the acknowledged interchange
	Date     string // TA102
	Time     string // TA103
	Status   Status // TA104: A, E or R
	Note     string // TA105
}

// GroupAck is one inbound 997 or 999: the disposition of one group.
type GroupAck struct {
	Envelope     AckEnvelope
	Kind         string // "997" or "999"
	FunctionalID string // AK101
	Control      string // AK102: GS06 of the acknowledged group
	Version      string // AK103 (005010 on)
	Status       Status // AK901
	Included     int    // AK902
	Received     int    // AK903
	Accepted     int    // AK904
	Codes        []string
	Sets         []SetAck
}

// SetAck is one AK2 loop: the disposition of one transaction set.
type SetAck struct {
	ID      string // AK201
	Control string // AK202: ST02 of the acknowledged set
	Status  Status // AK501/IK501
	Codes   []string
	Errors  []SegmentError
}

// Acks holds the acknowledgments read from an input.
type Acks struct {
	TA1    []TA1Ack
	Groups []GroupAck
}

// ReadAcks reads every TA1, 997 and 999 in r and returns their
// dispositions, ready to reconcile against what was sent. Other
// transaction sets are skipped.
func ReadAcks(r *Reader) (*Acks, error) {
	out := &Acks{}
	var env AckEnvelope
	var ga *GroupAck
	var sa *SetAck
	var se *SegmentError
	str := func(s *Segment, i int) string { return string(trimSpace(s.Element(i))) }
	num := func(s *Segment, i int) int { n, _ := atoi(s.Element(i)); return n }
	codes := func(s *Segment, from int) []string {
		var c []string
		for i := from; i < s.Len(); i++ {
			if v := str(s, i); v != "" {
				c = append(c, v)
			}
		}
		return c
	}
	flushSet := func() {
		if sa != nil && ga != nil {
			ga.Sets = append(ga.Sets, *sa)
		}
		sa, se = nil, nil
	}
	for {
		s, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			var pe *ParseError
			if errors.As(err, &pe) && !errors.Is(err, ErrNoISA) {
				continue
			}
			return out, err
		}
		switch string(s.ID()) {
		case "ISA":
			env = AckEnvelope{SenderQual: str(s, 5), SenderID: str(s, 6), ReceiverQual: str(s, 7), ReceiverID: str(s, 8), Control: str(s, 13)}
		case "TA1":
			out.TA1 = append(out.TA1, TA1Ack{Envelope: env, Control: str(s, 1), Date: str(s, 2), Time: str(s, 3), Status: statusOf(str(s, 4)), Note: str(s, 5)})
		case "ST":
			if id := str(s, 1); id == "997" || id == "999" {
				ga = &GroupAck{Envelope: env, Kind: id}
			}
		case "AK1":
			if ga != nil {
				ga.FunctionalID, ga.Control, ga.Version = str(s, 1), str(s, 2), str(s, 3)
			}
		case "AK2":
			if ga != nil {
				flushSet()
				sa = &SetAck{ID: str(s, 1), Control: str(s, 2)}
			}
		case "AK3", "IK3":
			if sa != nil {
				sa.Errors = append(sa.Errors, SegmentError{ID: str(s, 1), Position: num(s, 2), Loop: str(s, 3), Code: str(s, 4)})
				se = &sa.Errors[len(sa.Errors)-1]
			}
		case "AK4", "IK4":
			if se != nil {
				ee := ElementError{Position: atoiOr(s.Component(1, 1)), Component: atoiOr(s.Component(1, 2)), Repetition: atoiOr(s.Component(1, 3)),
					Ref: str(s, 2), Code: str(s, 3), Copy: str(s, 4)}
				se.Elements = append(se.Elements, ee)
			}
		case "AK5", "IK5":
			if sa != nil {
				sa.Status = statusOf(str(s, 1))
				sa.Codes = codes(s, 2)
			}
		case "AK9":
			if ga != nil {
				flushSet()
				ga.Status = statusOf(str(s, 1))
				ga.Included, ga.Received, ga.Accepted = num(s, 2), num(s, 3), num(s, 4)
				ga.Codes = codes(s, 5)
			}
		case "SE":
			if ga != nil {
				flushSet()
				out.Groups = append(out.Groups, *ga)
				ga = nil
			}
		}
	}
}

func atoiOr(b []byte) int {
	n, _ := strconv.Atoi(string(trimSpace(b)))
	return n
}

func statusOf(s string) Status {
	if len(s) == 1 {
		return Status(s[0])
	}
	return 0
}

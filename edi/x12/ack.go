package x12

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// AckOptions control acknowledgment generation.
type AckOptions struct {
	// Kind is "997" (default) or "999".
	Kind string
	// Numbers allocates the acknowledgment's control numbers (for Partner);
	// nil uses a fresh MemoryControlNumbers.
	Numbers ControlNumbers
	Partner string
	// Now gives the envelope date and time; nil means time.Now().UTC().
	Now func() time.Time
	// Newline writes a line break after each segment.
	Newline bool
}

// ImplementationRef999 is GS08/ST03 of generated 999s.
const ImplementationRef999 = "005010X231A1"

// WriteAcks writes, for each interchange of rep, the acknowledgments a
// receiver sends: a TA1 when the envelope is in error or ISA14 asks for one,
// and, unless the interchange is rejected, one 997 (or 999) per functional
// group in a single FA group. Acknowledgments are never acknowledged: FA
// groups get none. The ack interchange mirrors the inbound one: sender and
// receiver swapped, same control version and delimiters.
func WriteAcks(ctx context.Context, out io.Writer, rep *Report, opt AckOptions) error {
	if opt.Numbers == nil {
		opt.Numbers = &MemoryControlNumbers{}
	}
	if opt.Now == nil {
		opt.Now = func() time.Time { return time.Now().UTC() }
	}
	kind := opt.Kind
	if kind == "" {
		kind = "997"
	}
	if kind != "997" && kind != "999" {
		return fmt.Errorf("x12: ack kind %q: %w", kind, ErrUnsupported)
	}
	for _, ic := range rep.Interchanges {
		var groups []*Group
		if ic.Status != Rejected {
			for _, g := range ic.Groups {
				if !g.IsAck() {
					groups = append(groups, g)
				}
			}
		}
		if !ic.NeedsTA1() && len(groups) == 0 {
			continue
		}
		w := NewWriter(out)
		w.Delimiters = ackDelimiters(ic)
		w.Newline = opt.Newline
		w.Numbers = opt.Numbers
		w.Partner = opt.Partner
		now := opt.Now()
		err := w.BeginInterchange(ctx, ISAHeader{
			SenderQual: ic.ReceiverQual, SenderID: ic.ReceiverID,
			ReceiverQual: ic.SenderQual, ReceiverID: ic.SenderID,
			Version: ic.Version, Usage: ic.Usage, Time: now,
		})
		if err != nil {
			return err
		}
		if ic.NeedsTA1() {
			note := "000"
			if len(ic.Notes) > 0 {
				note = ic.Notes[0]
			}
			st := ic.Status
			if st == AcceptedWithErrors && len(ic.Notes) == 0 {
				st = Accepted
			}
			if err := w.WriteSegment("TA1", ic.Control, ic.Date, ic.Time, string(st), note); err != nil {
				return err
			}
		}
		if len(groups) > 0 {
			gv := ackGroupVersion(kind, groups[0])
			err := w.BeginGroup(ctx, GSHeader{FunctionalID: "FA", Sender: groups[0].Receiver, Receiver: groups[0].Sender, Version: gv, Time: now})
			if err != nil {
				return err
			}
			for _, g := range groups {
				if err := writeFA(ctx, w, kind, g); err != nil {
					return err
				}
			}
			if err := w.EndGroup(); err != nil {
				return err
			}
		}
		if err := w.EndInterchange(); err != nil {
			return err
		}
	}
	return nil
}

func ackGroupVersion(kind string, g *Group) string {
	if kind == "999" {
		return ImplementationRef999
	}
	if len(g.Version) >= 6 {
		return g.Version[:6]
	}
	return g.Version
}

// ackDelimiters reuses the inbound delimiters, filling in any missing one.
func ackDelimiters(ic *Interchange) Delimiters {
	d := ic.Delimiters
	used := func(c byte) bool {
		return c == d.Element || c == d.Segment || c == d.Component || c == d.Repetition
	}
	pick := func() byte {
		for _, c := range []byte(":>^\\|!{}`@") {
			if !used(c) {
				return c
			}
		}
		return 0
	}
	if d.Component == 0 {
		d.Component = pick()
	}
	if ic.Version >= "00402" && d.Repetition == 0 {
		d.Repetition = pick()
	}
	return d
}

func writeFA(ctx context.Context, w *Writer, kind string, g *Group) error {
	five := strings.HasPrefix(g.Version, "005") || strings.HasPrefix(g.Version, "006") || strings.HasPrefix(g.Version, "007")
	ref := ""
	if kind == "999" {
		ref = ImplementationRef999
	}
	if err := w.BeginSet(ctx, kind, 0, ref); err != nil {
		return err
	}
	ak1 := []string{g.FunctionalID, g.Control}
	if five || kind == "999" {
		ak1 = append(ak1, g.Version)
	}
	if err := w.WriteSegment("AK1", ak1...); err != nil {
		return err
	}
	comp := string(w.Delimiters.Component)
	for _, st := range g.Sets {
		ak2 := []string{st.ID, st.Control}
		if (five || kind == "999") && st.Reference != "" {
			ak2 = append(ak2, st.Reference)
		}
		if err := w.WriteSegment("AK2", ak2...); err != nil {
			return err
		}
		for _, se := range st.Errors {
			seg3, seg4 := "AK3", "AK4"
			if kind == "999" {
				seg3, seg4 = "IK3", "IK4"
			}
			if err := w.WriteSegment(seg3, se.ID, strconv.Itoa(se.Position), se.Loop, se.Code); err != nil {
				return err
			}
			if kind == "999" && st.Key != "" {
				// Business unit identifier (X231 loop 2100 CTX): the set's key.
				if err := w.WriteSegment("CTX", st.KeyRef+comp+sanitize(clip(st.Key, 35), w.Delimiters)); err != nil {
					return err
				}
			}
			for _, ee := range se.Elements {
				pos := strconv.Itoa(ee.Position)
				if ee.Component > 0 || ee.Repetition > 0 {
					pos += comp + strconv.Itoa(ee.Component)
					if ee.Repetition > 0 {
						pos += comp + strconv.Itoa(ee.Repetition)
					}
				}
				if err := w.WriteSegment(seg4, pos, ee.Ref, ee.Code, sanitize(ee.Copy, w.Delimiters)); err != nil {
					return err
				}
			}
		}
		ak5 := []string{string(setAckStatus(st))}
		ak5 = append(ak5, first(st.Codes, 5)...)
		seg5 := "AK5"
		if kind == "999" {
			seg5 = "IK5"
		}
		if err := w.WriteSegment(seg5, ak5...); err != nil {
			return err
		}
	}
	declared := g.Declared
	if declared < 0 {
		declared = g.Received
	}
	gs := g.Status
	if gs == AcceptedWithErrors && len(g.Codes) == 0 {
		gs = Accepted
		for _, st := range g.Sets {
			if setAckStatus(st) != Accepted {
				gs = AcceptedWithErrors
			}
		}
	}
	ak9 := []string{string(gs), strconv.Itoa(declared), strconv.Itoa(g.Received), strconv.Itoa(g.AcceptedSets)}
	ak9 = append(ak9, first(g.Codes, 5)...)
	if err := w.WriteSegment("AK9", ak9...); err != nil {
		return err
	}
	return w.EndSet()
}

// setAckStatus is AK501: E only when errors are reported in AK3/AK4.
func setAckStatus(st *Set) Status {
	if st.Status == AcceptedWithErrors && len(st.Errors) == 0 {
		return Accepted
	}
	return st.Status
}

func first(s []string, n int) []string {
	var out []string
	for _, c := range s {
		if c != "" && len(out) < n {
			out = append(out, c)
		}
	}
	return out
}

// sanitize drops delimiters from copied bad data so the ack stays parsable.
func sanitize(s string, d Delimiters) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 {
			c := byte(r)
			if c == d.Element || c == d.Segment || c == d.Component || c == d.Repetition || c == '\r' || c == '\n' {
				return -1
			}
		}
		return r
	}, s)
}

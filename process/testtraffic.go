package process

import (
	"github.com/wharfedi/wharf/edi/x12"
	"github.com/wharfedi/wharf/internal/store"
)

// isTest reports whether a file from partner is test traffic: the partner
// is marked test (Processor.Test) or, for X12, an interchange says ISA15 T.
func (p *Processor) isTest(partner string, rep *x12.Report) bool {
	if p.Test != nil && p.Test(partner) {
		return true
	}
	if rep != nil {
		for _, ic := range rep.Interchanges {
			if ic.Usage == "T" {
				return true
			}
		}
	}
	return false
}

// ackKeys are the keys of the acknowledgment of message id: what it
// acknowledges, and the test mark when the file was test traffic.
func ackKeys(id string, test bool) []store.Key {
	keys := []store.Key{{Kind: "acknowledges", Value: id}}
	if test {
		keys = append(keys, store.KeyTest)
	}
	return keys
}

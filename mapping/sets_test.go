package mapping

import (
	"slices"
	"testing"

	"github.com/wharfedi/wharf/edi/x12"
)

// TestSetListsAgree: every set Wharf writes it can also read back (the
// round-trip property test covers OutboundSets), and every set it reads has
// a schema the checker validates against.
func TestSetListsAgree(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range setTables() {
		if seen[s.id] {
			t.Errorf("X12 %s is in two families' set tables", s.id)
		}
		seen[s.id] = true
		if (s.out == nil) != (s.docType == "" || s.group == "") {
			t.Errorf("X12 %s: a set Wharf writes needs its document type and GS01, and only it", s.id)
		}
	}
	in := InboundSets()
	for _, set := range OutboundSets() {
		if !slices.Contains(in, set) {
			t.Errorf("X12 %s is written (outMaps) but not read (inMaps): the round trip cannot check it", set)
		}
	}
	schemas := x12.DefaultSchemas()
	for _, set := range in {
		if schemas.Lookup(set, "004010") == nil && schemas.Lookup(set, "005010") == nil {
			t.Errorf("X12 %s is mapped but has no schema in edi/x12/schemas", set)
		}
	}
}

package x12

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusDir is ../shared/corpus/x12 relative to the repository root.
const corpusDir = "../../../shared/corpus/x12"

// summary condenses a report: one token per interchange, group and set:
// "I<ISA13>:<status>[:notes]" "G<GS06>:<status>[:codes]" "S<ST01>/<ST02>:<status>[:codes]".
func summary(rep *Report) string {
	var parts []string
	if len(rep.Interchanges) == 0 {
		parts = append(parts, "none")
	}
	for _, ic := range rep.Interchanges {
		parts = append(parts, "I"+ic.Control+":"+string(ic.Status)+codesSuffix(ic.Notes))
		for _, g := range ic.Groups {
			parts = append(parts, "G"+g.Control+":"+string(g.Status)+codesSuffix(g.Codes))
			for _, s := range g.Sets {
				parts = append(parts, "S"+s.ID+"/"+s.Control+":"+string(s.Status)+codesSuffix(s.Codes))
			}
		}
	}
	return strings.Join(parts, " ")
}

func codesSuffix(c []string) string {
	if len(c) == 0 {
		return ""
	}
	return ":" + strings.Join(c, ",")
}

// The decided outcome for every corpus file (see docs/x12.md for why).
var corpusWant = []struct {
	file     string
	rejected bool
	warnings bool
	summary  string
	ta1      string // TA104 TA105 of the TA1 a receiver sends, "" for none
}{
	{"mvogttech_944_944.edi", false, true, "I000000015:E:016 G15:A S944/0001:A", "E 016"},
	{"silvenga_837_odd-separator.edi", true, false, "I000010216:R:023 G20213:R:3 S837/987654:R:2", "R 023"},
	{"silvenga_856_old.edi", false, false, "I990000002:A G3:A S856/0001:A", ""},
	{"staedi_997_empty997.edi", true, false, "I000000001:A G1:R S997/0001:R:5", ""},
	{"staedi_997_invalid997_min.edi", true, true, "I508121953:E:024,024 G000005:R:4 S997/0001:E", "E 024"},
	{"stupidedi_204_SM204_case_1.edi", false, false, "I000013309:A G13309:A S204/13309:A", ""},
	{"stupidedi_204_SM204_pass_1.edi", false, false, "I000000001:A G1:A S204/0001:A", ""},
	{"stupidedi_214_QM214_pass_gh-189.edi", true, false, "I000000893:A G914:R:5", "A 000"},
	{"stupidedi_315_QO315_pass_1.edi", false, true, "I000000001:A G1:E S315/0001:E", ""},
	{"stupidedi_810_IN810_ghx_sample.810", true, false, "I019871684:A G14610865:R S810/108650001:R:4", ""},
	{"stupidedi_810_IN810_pass_1.edi", false, false, "I005639689:A G5639689:A S810/5639689:A", ""},
	{"stupidedi_850_003050_PO850_fail_1.edi", false, true, "I000000003:E G1:E S850/0001:E", "A 000"},
	{"stupidedi_850_PO850_pass_1.edi", false, false, "I000000001:A G1:A S850/0001:A", ""},
	{"stupidedi_856_002001_SH856_fail_1.edi", false, true, "I000000001:E G1:E S856/0001:E S856/0002:E", ""},
	{"stupidedi_856_SH856_fail_2.edi", true, false, "I000000089:A G000000089:R S856/0000001:R:4,5", ""},
	{"stupidedi_856_SH856_pass_1.edi", false, false, "I000000001:A G1:A S856/0001:A", ""},
	{"stupidedi_856_SH856_pass_2.x12", true, true, "I000000089:E G000000089:R S856/0000001:R:4,5", ""},
	{"stupidedi_943_AR943_pass_1.edi", false, false, "I000000001:A G1:A S943/0001:A", ""},
	{"stupidedi_944_RE944_pass_1.edi", false, false, "I000000001:A G1:A S944/0001:A", ""},
	{"stupidedi_997_FA997_pass_1.edi", false, true, "I300044350:E G300044351:A S997/300044350:A", ""},
	{"stupidedi_997_X230_1-bad.txt", false, true, "I000000286:A G287:A S997/2870001:A", ""},
	{"stupidedi_997_X230_1-good.txt", false, true, "I000000286:A G287:A S997/2870001:A", ""},
	{"stupidedi_999_X231_1-bad.txt", false, true, "I000000286:E G287:A S999/2870001:A", ""},
	{"stupidedi_999_X231_1-good.txt", false, true, "I000000286:E G287:A S999/2870001:A", ""},
	{"x12types_204_test3_import.edi", false, true, "I000136909:A G136909:E S204/136581:E", ""}, // LH1 outside its L5 loop: out of sequence (warning),
	{"x12types_204_test_parse_204_no-envelope.edi", true, true, "none", ""},
	{"x12types_204_v005010_full_transmission_minimal.edi", true, false, "I000000001:A G1:R S204/18711:R:4", ""},
	{"x12types_214_parse_214_1_1edisource.edi", true, false, "I000003438:R:001 G2510:A S214/0001:A", "R 001"},
	{"x12types_214_v005010_full_transmission_minimal.edi", true, false, "I000000001:A G1:R S214/0001:R:4", ""},
	{"x12types_940_test_940_1_1edisource.edi", true, false, "I000003438:R:001 G3317:R:4 S940/0001:A", "R 001"},
	{"x12types_940_test_940_3_generalmills-new.edi", true, false, "I000000007:A G4311:R S940/43110001:R:5", ""},
	{"x12types_940_test_940_4_generalmills-change.edi", false, true, "I000000028:E G4332:A S940/43320001:A", ""},
	{"x12types_940_test_940_5_generalmills-delete.edi", false, true, "I000000009:E G4313:A S940/43130001:A", ""},
}

func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*"))
	if len(files) == 0 {
		t.Fatalf("corpus not found at %s", corpusDir)
	}
	decided := map[string]bool{}
	for _, c := range corpusWant {
		decided[c.file] = true
		t.Run(c.file, func(t *testing.T) {
			rep := checkFile(t, filepath.Join(corpusDir, c.file))
			if got := summary(rep); got != c.summary {
				t.Errorf("summary\n got %s\nwant %s", got, c.summary)
			}
			if rep.Rejected != c.rejected || rep.Warnings != c.warnings {
				t.Errorf("rejected, warnings = %v, %v; want %v, %v", rep.Rejected, rep.Warnings, c.rejected, c.warnings)
			}
			ta1 := ""
			for _, ic := range rep.Interchanges {
				if ic.NeedsTA1() {
					var b strings.Builder
					if err := WriteAcks(context.Background(), &b, &Report{Interchanges: []*Interchange{ic}}, AckOptions{}); err != nil {
						t.Fatal(err)
					}
					acks, err := ReadAcks(NewReader(strings.NewReader(b.String())))
					if err != nil || len(acks.TA1) != 1 {
						t.Fatalf("ack %q: %v", b.String(), err)
					}
					ta1 = string(acks.TA1[0].Status) + " " + acks.TA1[0].Note
				}
			}
			if ta1 != c.ta1 {
				t.Errorf("TA1 = %q, want %q", ta1, c.ta1)
			}
		})
	}
	for _, f := range files {
		if b := filepath.Base(f); !decided[b] && b != "MANIFEST.md" {
			t.Errorf("corpus file %s has no decided outcome", b)
		}
	}
}

func checkFile(t testing.TB, path string) *Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := (&Checker{}).Check(context.Background(), NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

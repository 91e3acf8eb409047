package x12

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusDir is the repository's own X12 corpus, testdata/x12 at the
// repository root; testdata/README.md says what each file exercises.
const corpusDir = "../../testdata/x12"

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

// outcome is the decided result of checking one file with the lenient
// default Checker.
type outcome struct {
	file     string
	rejected bool
	warnings bool
	summary  string
	ta1      string // TA104 TA105 of each TA1 a receiver sends, comma-separated; "" for none
}

// corpusWant is the decided outcome for every file of testdata/x12 (see
// testdata/README.md for what each one exercises and docs/x12.md for the
// rules). The files of 004010/ and 005010/ are accepted without warnings.
var corpusWant = []outcome{
	{"004010/204-minimal.edi", false, false, "I000000205:A G205:A S204/0001:A", ""},
	{"004010/204.edi", false, false, "I000000204:A G204:A S204/0001:A", ""},
	{"004010/210.edi", false, false, "I000004210:A G4210:A S210/0001:A", ""},
	{"004010/214.edi", false, false, "I000004214:A G4214:A S214/0001:A", ""},
	{"004010/810.edi", false, false, "I000004810:A G4810:A S810/0001:A", ""},
	{"004010/846.edi", false, false, "I000004846:A G4846:A S846/0001:A", ""},
	{"004010/850.edi", false, false, "I000004850:A G4850:A S850/0001:A", ""},
	{"004010/856.edi", false, false, "I000004856:A G4856:A S856/0001:A", ""},
	{"004010/940.edi", false, false, "I000004940:A G4940:A S940/0001:A", ""},
	{"004010/943.edi", false, false, "I000004943:A G4943:A S943/0001:A", ""},
	{"004010/944.edi", false, false, "I000004944:A G4944:A S944/0001:A", ""},
	{"004010/945.edi", false, false, "I000004945:A G4945:A S945/0001:A", ""},
	{"004010/947.edi", false, false, "I000004947:A G4947:A S947/0001:A", ""},
	{"004010/990.edi", false, false, "I000004990:A G4990:A S990/0001:A", ""},
	{"004010/997.edi", false, false, "I000004997:A G4997:A S997/0001:A", ""},
	{"005010/204.edi", false, false, "I000005204:A G5204:A S204/0001:A", ""},
	{"005010/210.edi", false, false, "I000005210:A G5210:A S210/0001:A", ""},
	{"005010/214.edi", false, false, "I000005214:A G5214:A S214/0001:A", ""},
	{"005010/810.edi", false, false, "I000005810:A G5810:A S810/0001:A", ""},
	{"005010/846.edi", false, false, "I000005846:A G5846:A S846/0001:A", ""},
	{"005010/850.edi", false, false, "I000005850:A G5850:A S850/0001:A", ""},
	{"005010/856.edi", false, false, "I000005856:A G5856:A S856/0001:A", ""},
	{"005010/940.edi", false, false, "I000005940:A G5940:A S940/0001:A", ""},
	{"005010/943.edi", false, false, "I000005943:A G5943:A S943/0001:A", ""},
	{"005010/944.edi", false, false, "I000005944:A G5944:A S944/0001:A", ""},
	{"005010/945.edi", false, false, "I000005945:A G5945:A S945/0001:A", ""},
	{"005010/947.edi", false, false, "I000005947:A G5947:A S947/0001:A", ""},
	{"005010/990.edi", false, false, "I000005990:A G5990:A S990/0001:A", ""},
	{"005010/997.edi", false, false, "I000005997:A G5997:A S997/0001:A", ""},
	{"005010/999.edi", false, false, "I000005999:A G5999:A S999/0001:A", ""},
	{"errors/204-g62-over-max.edi", false, true, "I000009305:A G9305:E S204/0001:E", ""},
	{"errors/204-mandatory-element-missing.edi", true, false, "I000009401:A G9401:R S204/0001:R:5", ""},
	{"errors/204-missing-stop-loop.edi", true, false, "I000009303:A G9303:R S204/0001:R:5", ""},
	{"errors/204-n1-loop-over-max.edi", false, true, "I000009304:A G9304:E S204/0001:E", ""},
	{"errors/204-no-se.edi", true, false, "I000009002:A G9002:P S204/0001:R:2 S204/0002:A", ""},
	{"errors/204-st02-repeated.edi", true, false, "I000009023:A G9023:P:23 S204/0001:A S204/0001:R:23", ""},
	{"errors/214-ge02-mismatch.edi", true, false, "I000009104:A G9104:R:4 S214/0001:A", ""},
	{"errors/214-invalid-character.edi", false, true, "I000009406:A G9406:E S214/0001:E", ""},
	{"errors/214-invalid-time.edi", false, true, "I000009409:A G9409:E S214/0001:E", ""},
	{"errors/214-out-of-sequence.edi", false, true, "I000009307:A G9307:E S214/0001:E", ""},
	{"errors/214-se01-count.edi", true, false, "I000000214:A G214:R S214/0001:R:4", ""},
	{"errors/810-se01-count.edi", true, false, "I000009004:A G9004:R S810/0001:R:4", ""},
	{"errors/850-element-length.edi", false, true, "I000009404:A G9404:E S850/0001:E", ""},
	{"errors/850-se02-mismatch.edi", true, false, "I000009003:A G9003:R S850/0001:R:3", ""},
	{"errors/856-st02-too-long.edi", true, false, "I000009007:A G9007:R S856/0000000001:R:7", ""},
	{"errors/940-ge01-count.edi", true, false, "I000009105:A G9105:R:5 S940/0001:A", ""},
	{"errors/940-segment-not-in-set.edi", false, true, "I000009306:A G9306:E S940/0001:E", ""},
	{"errors/940-too-many-elements.edi", true, false, "I000009403:A G9403:R S940/0001:R:5", ""},
	{"errors/943-gs06-invalid.edi", true, false, "I000009106:A GA9106:R:6 S943/0001:A", ""},
	{"errors/944-iea02-mismatch.edi", true, false, "I000009201:R:001 G9201:A S944/0001:A", "R 001"},
	{"errors/945-missing-w06.edi", true, false, "I000009005:A G9005:R S945/0001:R:5", ""},
	{"errors/990-invalid-date.edi", false, true, "I000009408:A G9408:E S990/0001:E", ""},
	{"errors/990-no-ge.edi", true, false, "I000009103:A G9103:R:3 S990/0001:A", ""},
	{"errors/997-invalid-code.edi", false, true, "I000009407:A G9407:E S997/0001:E", ""},
	{"errors/duplicate-isa13.edi", true, false, "I000009250:A G9250:A S204/0001:A I000009250:R:025 G9251:A S204/0001:A", "R 025"},
	{"errors/gs04-invalid.edi", false, true, "I000009224:E:024 G9224:A S204/0001:A", "E 024"},
	{"errors/iea01-count.edi", true, false, "I000009221:R:021 G9221:A S204/0001:A", "R 021"},
	{"errors/isa09-isa10-invalid.edi", false, true, "I000009214:E:014,015 G9214:A S204/0001:A", "E 014"},
	{"errors/isa11-isa16-same.edi", true, true, "none", ""},
	{"errors/isa11-not-u.edi", false, true, "I000009216:E:016 G9216:A S204/0001:A", "E 016"},
	{"errors/isa12-unsupported.edi", true, false, "I000009203:R:003 G9203:A S204/0001:A", "R 003"},
	{"errors/isa13-not-numeric.edi", true, false, "I00000ABCD:R:018 G9218:A S204/0001:A", "R 018"},
	{"errors/isa14-invalid.edi", false, true, "I000009219:E:019 G9219:A S204/0001:A", "E 019"},
	{"errors/isa15-invalid.edi", false, true, "I000009220:E:020 G9220:A S204/0001:A", "E 020"},
	{"errors/no-iea.edi", true, false, "I000009223:R:023 G9223:A S204/0001:A", "R 023"},
	{"errors/no-isa.edi", true, true, "none", ""},
	{"errors/not-x12.edi", true, true, "none", ""},
	{"errors/st-outside-group.edi", true, false, "I000009225:R:024,024,024,024,024,024", "R 024"},
	{"errors/st01-invalid.edi", true, false, "I000009006:A G9006:R S85A/0001:R:6", ""},
	{"errors/truncated.edi", true, false, "I000009230:R:023 G9230:R:3 S204/0001:R:2", "R 023"},
	{"mapping/204-no-shipment-id.edi", false, false, "I000009301:A G9301:A S204/0001:A", ""}, // valid X12; mapping quarantines it (no B204)
	{"syntax/bang-elements.edi", false, false, "I000007003:A G7003:A S944/0001:A", ""},
	{"syntax/bom-no-final-terminator.edi", false, true, "I000007010:E G7010:A S943/0001:A", ""},
	{"syntax/caret-elements.edi", false, false, "I000007002:A G7002:A S940/0001:A", ""},
	{"syntax/control-characters.edi", false, false, "I000007016:A G7016:A S846/0001:A", ""},
	{"syntax/crlf-lines.edi", false, false, "I000007005:A G7005:A S810/0001:A", ""},
	{"syntax/crlf-terminator.edi", false, false, "I000007006:A G7006:A S850/0001:A", ""},
	{"syntax/gs08-implementation-suffix.edi", false, false, "I000007023:A G7023:A S214/0001:A", ""},
	{"syntax/isa16-missing.edi", false, true, "I000007020:E G7020:A S810/0001:A", ""},
	{"syntax/multi-group.edi", false, false, "I000007014:A G70141:A S990/0001:A G70142:A S214/0001:A G70143:A S210/0001:A", ""},
	{"syntax/multi-interchange.edi", false, false, "I000007011:A G7011:A S204/0001:A I000007012:A G7012:A S990/0001:A I000007013:A G7013:A S214/0001:A", ""},
	{"syntax/multi-set.edi", false, false, "I000007015:A G7015:A S204/0001:A S204/0002:A S204/0003:A", ""},
	{"syntax/newline-terminator.edi", false, false, "I000007004:A G7004:A S214/0001:A", ""},
	{"syntax/no-schema-315.edi", false, true, "I000007021:A G7021:E S315/0001:E", ""},
	{"syntax/pipe-elements.edi", false, false, "I000007001:A G7001:A S856/0001:A", ""},
	{"syntax/short-st02.edi", false, true, "I000007017:A G7017:E S214/001:E", ""},
	{"syntax/ta1-requested-note-016.edi", false, true, "I000007019:E:016 G7019:A S204/0001:A", "E 016"},
	{"syntax/ta1-requested.edi", false, false, "I000007018:A G7018:A S204/0001:A", "A 000"},
	{"syntax/text-after-iea.edi", false, true, "I000007009:A G7009:A S990/0001:A", ""},
	{"syntax/text-before-isa.edi", false, true, "I000007008:A G7008:A S990/0001:A", ""},
	{"syntax/unpadded-isa.edi", false, true, "I000007007:E G7007:A S204/0001:A", ""},
	{"syntax/version-003050.edi", false, true, "I000007022:A G7022:E S850/0001:E", ""},
}

// listFiles returns the files under dir, relative to it, in lexical order,
// leaving out Markdown notes.
func listFiles(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasSuffix(p, ".md") {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatalf("listing %s: %v", dir, err)
	}
	return files
}

func TestCorpus(t *testing.T) {
	files := listFiles(t, corpusDir)
	if len(files) == 0 {
		t.Fatalf("no corpus files in %s", corpusDir)
	}
	decided := map[string]bool{}
	for _, c := range corpusWant {
		decided[c.file] = true
		t.Run(c.file, func(t *testing.T) {
			rep := checkFile(t, filepath.Join(corpusDir, c.file))
			assertOutcome(t, rep, c)
			assertAcks(t, rep)
			if good := strings.HasPrefix(c.file, "004010/") || strings.HasPrefix(c.file, "005010/"); good && (rep.Rejected || rep.Warnings) {
				t.Errorf("a file of %s must be accepted without warnings", filepath.Dir(c.file))
			}
		})
	}
	for _, f := range files {
		if !decided[f] {
			t.Errorf("corpus file %s has no decided outcome in corpusWant", f)
		}
	}
}

// assertOutcome compares a report with its decided outcome.
func assertOutcome(t *testing.T, rep *Report, c outcome) {
	t.Helper()
	if got := summary(rep); got != c.summary {
		t.Errorf("summary\n got %s\nwant %s", got, c.summary)
	}
	if rep.Rejected != c.rejected || rep.Warnings != c.warnings {
		t.Errorf("rejected, warnings = %v, %v; want %v, %v", rep.Rejected, rep.Warnings, c.rejected, c.warnings)
	}
	var ta1 []string
	for _, ic := range rep.Interchanges {
		if !ic.NeedsTA1() {
			continue
		}
		var b strings.Builder
		if err := WriteAcks(context.Background(), &b, &Report{Interchanges: []*Interchange{ic}}, AckOptions{}); err != nil {
			t.Fatal(err)
		}
		acks, err := ReadAcks(NewReader(strings.NewReader(b.String())))
		if err != nil || len(acks.TA1) != 1 {
			t.Fatalf("ack %q: %v", b.String(), err)
		}
		ta1 = append(ta1, string(acks.TA1[0].Status)+" "+acks.TA1[0].Note)
	}
	if got := strings.Join(ta1, ", "); got != c.ta1 {
		t.Errorf("TA1 = %q, want %q", got, c.ta1)
	}
}

// assertAcks checks the invariants of the acknowledgments written for a
// report, as 997s and as 999s: ReadAcks reads them back, with one TA1 per
// interchange that needs one and one 997/999 per acknowledged group (every
// group but FA groups, in interchanges not rejected), each answering its
// group's GS06 with one AK2 per set.
func assertAcks(t *testing.T, rep *Report) {
	t.Helper()
	var wantTA1 int
	var wantGroups []*Group
	for _, ic := range rep.Interchanges {
		if ic.NeedsTA1() {
			wantTA1++
		}
		if ic.Status == Rejected {
			continue
		}
		for _, g := range ic.Groups {
			if !g.IsAck() {
				wantGroups = append(wantGroups, g)
			}
		}
	}
	for _, kind := range []string{"997", "999"} {
		var b strings.Builder
		if err := WriteAcks(context.Background(), &b, rep, AckOptions{Kind: kind}); err != nil {
			if errors.Is(err, ErrBadValue) && longPartnerID(rep) {
				t.Logf("%s not written: %v (a partner ID longer than ISA06/ISA08 allows cannot be echoed)", kind, err)
				return
			}
			t.Fatalf("%s: %v", kind, err)
		}
		acks := &Acks{}
		if b.Len() > 0 {
			var err error
			if acks, err = ReadAcks(NewReader(strings.NewReader(b.String()))); err != nil {
				t.Fatalf("%s not read back: %v\n%s", kind, err, b.String())
			}
		}
		if len(acks.TA1) != wantTA1 || len(acks.Groups) != len(wantGroups) {
			t.Fatalf("%s: %d TA1 and %d groups acknowledged, want %d and %d\n%s", kind, len(acks.TA1), len(acks.Groups), wantTA1, len(wantGroups), b.String())
		}
		for i, g := range wantGroups {
			a := acks.Groups[i]
			if a.Kind != kind || a.Control != g.Control || len(a.Sets) != len(g.Sets) {
				t.Errorf("%s for group %s: %+v", kind, g.Control, a)
			}
		}
	}
}

// longPartnerID reports whether an interchange's sender or receiver ID is
// longer than the 15 characters of ISA06/ISA08 (read from an unpadded ISA).
func longPartnerID(rep *Report) bool {
	for _, ic := range rep.Interchanges {
		if len(ic.SenderID) > 15 || len(ic.ReceiverID) > 15 {
			return true
		}
	}
	return false
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

// extraWant is the decided outcome for the files of the public sample
// corpus that TestExtraCorpus usually reads (its MANIFEST.md says where each
// file comes from and what is odd about it), by file name.
var extraWant = []outcome{
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
	{"x12types_204_test3_import.edi", false, true, "I000136909:A G136909:E S204/136581:E", ""}, // LH1 outside its L5 loop: out of sequence (warning)
	{"x12types_204_test_parse_204_no-envelope.edi", true, true, "none", ""},
	{"x12types_204_v005010_full_transmission_minimal.edi", true, false, "I000000001:A G1:R S204/18711:R:4", ""},
	{"x12types_214_parse_214_1_1edisource.edi", true, false, "I000003438:R:001 G2510:A S214/0001:A", "R 001"},
	{"x12types_214_v005010_full_transmission_minimal.edi", true, false, "I000000001:A G1:R S214/0001:R:4", ""},
	{"x12types_940_test_940_1_1edisource.edi", true, false, "I000003438:R:001 G3317:R:4 S940/0001:A", "R 001"},
	{"x12types_940_test_940_3_generalmills-new.edi", true, false, "I000000007:A G4311:R S940/43110001:R:5", ""},
	{"x12types_940_test_940_4_generalmills-change.edi", false, true, "I000000028:E G4332:A S940/43320001:A", ""},
	{"x12types_940_test_940_5_generalmills-delete.edi", false, true, "I000000009:E G4313:A S940/43130001:A", ""},
}

// TestExtraCorpus checks every file of the folder named by the environment
// variable WHARF_TEST_X12_CORPUS: the decided outcome of extraWant for the
// files it names, and for any file that Check neither fails nor panics and
// that the acknowledgments it writes read back (assertAcks). It is the only
// test of this package that reads outside the repository, and only the
// folder the variable names (a public sample corpus; .ci/run sets it when
// one is there). Without it the test is skipped.
func TestExtraCorpus(t *testing.T) {
	dir := os.Getenv("WHARF_TEST_X12_CORPUS")
	if dir == "" {
		t.Skip("set WHARF_TEST_X12_CORPUS to a folder of X12 files to check them (see the doc comment)")
	}
	files := listFiles(t, dir)
	if len(files) == 0 {
		t.Fatalf("no files in WHARF_TEST_X12_CORPUS=%s", dir)
	}
	want := map[string]outcome{}
	for _, c := range extraWant {
		want[c.file] = c
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic: %v", r)
				}
			}()
			rep := checkFile(t, filepath.Join(dir, f))
			if c, ok := want[filepath.Base(f)]; ok {
				assertOutcome(t, rep, c)
			}
			assertAcks(t, rep)
		})
	}
}

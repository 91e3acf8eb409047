package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/edi/x12"
)

const x12Corpus = "../../../shared/corpus/x12"

func runX12In(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runX12(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func corpusFile(name string) string { return filepath.Join(x12Corpus, name) }

func TestX12ValidateExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  []string // substrings expected on stdout
	}{
		{[]string{"validate", corpusFile("stupidedi_204_SM204_pass_1.edi")}, 0, []string{"interchange 000000001 from ZZ:SENDER to ZZ:RECEIVER: accepted"}},
		{[]string{"validate", corpusFile("stupidedi_315_QO315_pass_1.edi")}, 0, []string{"no schema for 315", "accepted with warnings"}},
		{[]string{"validate", corpusFile("stupidedi_204_SM204_pass_1.edi"), corpusFile("stupidedi_810_IN810_ghx_sample.810")}, 1,
			[]string{"interchange 019871684, group 14610865, set 108650001", "segment 48 (SE at set position 46)", `SE01 is "47", 46 segments counted`}},
		{[]string{"validate", corpusFile("x12types_940_test_940_3_generalmills-new.edi")}, 1, []string{"segment W01 at position 16", "too many data elements [3]"}},
		{[]string{"validate", corpusFile("x12types_204_test_parse_204_no-envelope.edi")}, 1, []string{"no ISA segment found"}},
		{[]string{"validate", "does-not-exist.edi"}, 2, nil},
		{[]string{"validate"}, 2, nil},
		{[]string{"frob"}, 2, nil},
		{nil, 2, nil},
	}
	for _, tt := range tests {
		out, errs, code := runX12In(t, "", tt.args...)
		if code != tt.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", tt.args, code, tt.code, out, errs)
		}
		for _, s := range tt.out {
			if !strings.Contains(out, s) {
				t.Errorf("%v: output lacks %q:\n%s", tt.args, s, out)
			}
		}
	}
}

func TestX12ValidateJSON(t *testing.T) {
	out, _, code := runX12In(t, "", "validate", "--json", corpusFile("stupidedi_856_SH856_fail_2.edi"))
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var kinds []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec struct {
			Kind, Status, Key string
			Codes             []string
			Errors            []x12.SegmentError `json:"segment_errors"`
			Issues            []struct{ Position, Element int }
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		kinds = append(kinds, rec.Kind+":"+rec.Status)
		if rec.Kind == "set" && (strings.Join(rec.Codes, ",") != "4,5" || rec.Errors[0].ID != "N1" || len(rec.Issues) != 2 || rec.Issues[1].Position != 22 || rec.Key != "861554") {
			t.Errorf("set record: %s", line)
		}
	}
	if got := strings.Join(kinds, " "); got != "set:rejected group:rejected interchange:accepted file:rejected" {
		t.Errorf("records: %s", got)
	}
}

func TestX12AckAndFmt(t *testing.T) {
	out, _, code := runX12In(t, "", "ack", corpusFile("x12types_940_test_940_1_1edisource.edi"))
	if code != 0 || !strings.Contains(out, "TA1*000003438*101127*1719*R*001~") || strings.Contains(out, "ST*997") {
		t.Fatalf("ack of rejected interchange: %d\n%s", code, out)
	}
	out, _, code = runX12In(t, "", "ack", "--999", corpusFile("stupidedi_856_SH856_fail_2.edi"))
	if code != 0 || !strings.Contains(out, "ST*999*0001*005010X231A1$") || !strings.Contains(out, "IK5*R*4*5$") {
		t.Fatalf("999: %d\n%s", code, out)
	}
	// FA groups are never acknowledged.
	out, _, _ = runX12In(t, "", "ack", corpusFile("stupidedi_997_FA997_pass_1.edi"))
	if out != "" {
		t.Fatalf("ack of a 997: %q", out)
	}
	out, _, code = runX12In(t, "ISA*00*          *00*          *ZZ*A              *ZZ*B              *260101*1200*U*00401*000000001*0*P*>~GS*SM*A*B*20260101*1200*1*X*004010~GE*0*1~IEA*1*000000001~", "fmt", "-")
	if code != 0 || strings.Count(out, "\n") != 4 || !strings.HasPrefix(strings.Split(out, "\n")[1], "GS*SM") {
		t.Fatalf("fmt: %d %q", code, out)
	}
}

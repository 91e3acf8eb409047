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

// x12Corpus is the project's own X12 corpus (testdata/README.md says what
// each file exercises).
const x12Corpus = "../../testdata/x12"

func runX12In(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"x12"}, args...), strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// corpusFile names a file of the corpus by its path under testdata/x12.
func corpusFile(name string) string { return filepath.Join(x12Corpus, filepath.FromSlash(name)) }

func TestX12ValidateExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  []string // substrings expected on stdout
	}{
		{[]string{"validate", corpusFile("004010/204-minimal.edi")}, 0, []string{"interchange 000000205 from ZZ:ACME to ZZ:WHARF: accepted"}},
		{[]string{"validate", corpusFile("syntax/no-schema-315.edi")}, 0, []string{"no schema for 315", "accepted with warnings"}},
		{[]string{"validate", corpusFile("004010/204-minimal.edi"), corpusFile("errors/810-se01-count.edi")}, 1,
			[]string{"810-se01-count.edi: error: x12: interchange 000009004, group 9004, set 0001", "(SE at set position 20)", `SE01 is "21", 20 segments counted`}},
		{[]string{"validate", corpusFile("errors/940-too-many-elements.edi")}, 1, []string{"segment W01 at position 13", "too many data elements [code 3]"}},
		{[]string{"validate", corpusFile("errors/no-isa.edi")}, 1, []string{"no ISA segment found"}},
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
	out, _, code := runX12In(t, "", "validate", "--json", corpusFile("errors/940-too-many-elements.edi"), corpusFile("errors/214-se01-count.edi"))
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
		switch {
		case rec.Kind == "set" && rec.Key == "ACME-SO-94030":
			if strings.Join(rec.Codes, ",") != "5" || len(rec.Errors) != 1 || rec.Errors[0].ID != "W01" || rec.Errors[0].Position != 13 {
				t.Errorf("940 set record: %s", line)
			}
		case rec.Kind == "set":
			if strings.Join(rec.Codes, ",") != "4" || rec.Key != "666555" || len(rec.Issues) != 1 || rec.Issues[0].Position != 23 || rec.Issues[0].Element != 1 {
				t.Errorf("214 set record: %s", line)
			}
		}
	}
	if got := strings.Join(kinds, " "); got != "set:rejected group:rejected interchange:accepted file:rejected set:rejected group:rejected interchange:accepted file:rejected" {
		t.Errorf("records: %s", got)
	}
}

func TestX12AckAndFmt(t *testing.T) {
	out, _, code := runX12In(t, "", "ack", corpusFile("errors/944-iea02-mismatch.edi"))
	if code != 0 || !strings.Contains(out, "TA1*000009201*260310*0815*R*001~") || strings.Contains(out, "ST*997") {
		t.Fatalf("ack of rejected interchange: %d\n%s", code, out)
	}
	out, _, code = runX12In(t, "", "ack", "--999", corpusFile("errors/214-se01-count.edi"))
	if code != 0 || !strings.Contains(out, "ST*999*0001*005010X231A1~") || !strings.Contains(out, "AK2*214*0001~\nIK5*R*4~") {
		t.Fatalf("999: %d\n%s", code, out)
	}
	// FA groups are never acknowledged.
	out, _, _ = runX12In(t, "", "ack", corpusFile("004010/997.edi"))
	if out != "" {
		t.Fatalf("ack of a 997: %q", out)
	}
	out, _, code = runX12In(t, "ISA*00*          *00*          *ZZ*A              *ZZ*B              *260101*1200*U*00401*000000001*0*P*>~GS*SM*A*B*20260101*1200*1*X*004010~GE*0*1~IEA*1*000000001~", "fmt", "-")
	if code != 0 || strings.Count(out, "\n") != 4 || !strings.HasPrefix(strings.Split(out, "\n")[1], "GS*SM") {
		t.Fatalf("fmt: %d %q", code, out)
	}
}

package mapping

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/mapping/canonical"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// corpusDir matches the folders of the repository's own X12 corpus
// (testdata/x12/004010, 005010, errors and syntax at the repository root;
// testdata/README.md says what each file exercises). It is a pattern, so
// filepath.Join(corpusDir, "*") lists every corpus file.
const corpusDir = "../testdata/x12/*"

// corpusFiles returns the X12 corpus files as paths relative to
// testdata/x12, e.g. "004010/204.edi", in lexical order.
func corpusFiles(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(corpusDir, "*"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corpus files in %s: %v", filepath.Dir(corpusDir), err)
	}
	var files []string
	for _, p := range paths {
		if rel, err := filepath.Rel(filepath.Dir(corpusDir), p); err == nil && !strings.HasSuffix(p, ".md") {
			files = append(files, filepath.ToSlash(rel))
		}
	}
	return files
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./mapping -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./mapping -run %s -update, then review the diff):\n%s", path, t.Name(), got)
	}
}

// mapGolden maps an X12 input and prints documents, errors and the
// outcome as JSON Lines.
func mapGolden(t *testing.T, p *Profile, in []byte) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	out, err := FromX12(context.Background(), bytes.NewReader(in), Options{Profile: p,
		Emit:    func(d canonical.Document) error { return enc.Encode(d) },
		OnError: func(e *Error) { enc.Encode(map[string]any{"error": e}) }})
	if err != nil {
		t.Fatal(err)
	}
	enc.Encode(map[string]any{"outcome": out})
	return buf.Bytes()
}

// TestCorpusGolden maps every file of the repository's X12 corpus and
// compares documents, errors and outcome with
// testdata/golden/x12/DIR/NAME.jsonl. The files of 004010/ and 005010/ map
// without errors.
func TestCorpusGolden(t *testing.T) {
	p, err := NewProfile(ProfileSpec{Partner: "corpus", TimeZone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range corpusFiles(t) {
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join(filepath.Dir(corpusDir), name))
			if err != nil {
				t.Fatal(err)
			}
			got := mapGolden(t, p, in)
			golden(t, filepath.Join("x12", name+".jsonl"), got)
			if good := strings.HasPrefix(name, "004010/") || strings.HasPrefix(name, "005010/"); good && !bytes.Contains(got, []byte(`"errors":0}}`)) {
				t.Errorf("a file of %s must map without errors:\n%s", filepath.Dir(name), got)
			}
		})
	}
}

// TestExtraCorpusMapping maps every file of the folder named by the
// environment variable WHARF_TEST_X12_CORPUS and checks only that mapping
// neither fails nor panics and that every error is a *Error naming its
// document. It is the only test of this package that reads outside the
// repository, and only the folder the variable names (a public sample
// corpus; .ci/run sets it when one is there). Without it the test is skipped.
func TestExtraCorpusMapping(t *testing.T) {
	dir := os.Getenv("WHARF_TEST_X12_CORPUS")
	if dir == "" {
		t.Skip("set WHARF_TEST_X12_CORPUS to a folder of X12 files to map them (see the doc comment)")
	}
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(path, ".md") {
			files = append(files, path)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("no files in WHARF_TEST_X12_CORPUS=%s: %v", dir, err)
	}
	p, err := NewProfile(ProfileSpec{Partner: "corpus", TimeZone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name, _ := filepath.Rel(dir, f)
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic: %v", r)
				}
			}()
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = FromX12(context.Background(), bytes.NewReader(in), Options{Profile: p,
				Emit: func(d canonical.Document) error {
					_, err := canonical.AppendJSON(nil, d)
					return err
				},
				OnError: func(e *Error) {
					if e == nil || e.Document == "" || e.Err == nil {
						t.Errorf("error without document or cause: %+v", e)
					}
				}})
			var me *Error
			if err != nil && !errors.As(err, &me) {
				t.Errorf("FromX12: %v (%T), want nil or a *Error", err, err)
			}
		})
	}
}

// TestRenderGolden renders the canonical examples of testdata/canonical
// to X12 and compares with testdata/golden/render.
func TestRenderGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "canonical", "*.jsonl"))
	if len(files) == 0 {
		t.Fatal("no examples in testdata/canonical")
	}
	p, err := NewProfile(ProfileSpec{Partner: "acme", TimeZone: "America/Chicago",
		Envelope: Envelope{SenderQual: "ZZ", SenderID: "WHARF", ReceiverQual: "ZZ", ReceiverID: "ACME"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		set := strings.TrimSuffix(filepath.Base(f), ".jsonl")
		t.Run(set, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var docs []canonical.Document
			for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
				d, err := canonical.Decode(line)
				if err != nil {
					t.Fatal(err)
				}
				docs = append(docs, d)
			}
			edi := render(t, p, set, docs...)
			golden(t, filepath.Join("render", set+".x12"), edi)
			back, _ := mapAll(t, p, edi)
			for i := range docs {
				back[i].Head().Source = nil
				if a, b := jsonOf(t, docs[i]), jsonOf(t, back[i]); a != b {
					t.Errorf("example %d does not survive the round trip:\nwant %s\ngot  %s", i, a, b)
				}
			}
		})
	}
}

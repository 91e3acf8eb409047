package mapping

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/mapping/canonical"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// corpusDir is ../shared/corpus/x12 relative to the repository root.
const corpusDir = "../../shared/corpus/x12"

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

// TestCorpusGolden maps every file of the shared X12 corpus and compares
// documents, errors and outcome with testdata/golden/x12/NAME.jsonl.
func TestCorpusGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files in %s: %v", corpusDir, err)
	}
	p, err := NewProfile(ProfileSpec{Partner: "corpus", TimeZone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		if strings.HasSuffix(name, ".md") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("x12", name+".jsonl"), mapGolden(t, p, in))
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

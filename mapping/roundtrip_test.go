package mapping

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand"
	"testing"
	"time"

	"github.com/wharfedi/wharf/edi/x12"
	"github.com/wharfedi/wharf/mapping/canonical"
)

var fixedNow = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC) }

// render writes docs as one interchange of set and returns the bytes.
func render(t testing.TB, p *Profile, set string, docs ...canonical.Document) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := x12.NewWriter(&buf)
	r, err := NewX12Renderer(w, RenderOptions{Profile: p, Set: set, Numbers: &x12.MemoryControlNumbers{}, Now: fixedNow, Newline: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range docs {
		errs, err := r.Render(context.Background(), d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range errs {
			t.Errorf("render doc %d: %v", i, e)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mapAll(t testing.TB, p *Profile, in []byte) ([]canonical.Document, *Outcome) {
	t.Helper()
	var docs []canonical.Document
	out, err := FromX12(context.Background(), bytes.NewReader(in), Options{Profile: p,
		Emit:    func(d canonical.Document) error { docs = append(docs, d); return nil },
		OnError: func(e *Error) { t.Errorf("map: %v", e) }})
	if err != nil {
		t.Fatal(err)
	}
	return docs, out
}

func jsonOf(t testing.TB, d canonical.Document) string {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRoundTrip is the property: for every outbound set, a canonical
// document rendered to X12 and mapped back is the same document.
func TestRoundTrip(t *testing.T) {
	profiles := map[string]*Profile{"utc": DefaultProfile()}
	chicago, err := NewProfile(ProfileSpec{Partner: "acme", TimeZone: "America/Chicago"})
	if err != nil {
		t.Fatal(err)
	}
	profiles["chicago"] = chicago
	for _, set := range OutboundSets() {
		for pname, p := range profiles {
			t.Run(set+"/"+pname, func(t *testing.T) {
				g := &gen{r: rand.New(rand.NewSource(int64(len(set)*7919 + len(pname)))), loc: p.Location}
				const n = 150
				docs := make([]canonical.Document, n)
				for i := range docs {
					docs[i] = g.doc(set)
				}
				edi := render(t, p, set, docs...)
				got, out := mapAll(t, p, edi)
				if out.Documents != n || len(got) != n {
					t.Fatalf("mapped %d documents (outcome %+v), want %d", len(got), out, n)
				}
				for i := range docs {
					got[i].Head().Source = nil
					if a, b := jsonOf(t, docs[i]), jsonOf(t, got[i]); a != b {
						t.Fatalf("document %d differs after canonical → X12 %s → canonical:\nwant %s\ngot  %s", i, set, a, b)
					}
				}
			})
		}
	}
}

func x12Writer(w *bytes.Buffer) *x12.Writer { return x12.NewWriter(w) }
func memNumbers() x12.ControlNumbers        { return &x12.MemoryControlNumbers{} }

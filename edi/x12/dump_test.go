package x12

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestDumpCorpus(t *testing.T) {
	if os.Getenv("X12DUMP") == "" {
		t.Skip()
	}
	files, _ := filepath.Glob("../../../shared/corpus/x12/*")
	for _, f := range files {
		fh, _ := os.Open(f)
		r := NewReader(fh)
		r.OnWarning = func(e *ParseError) { fmt.Println("  WARN", e) }
		fmt.Println("==", filepath.Base(f))
		n := 0
		for {
			s, err := r.Read()
			if err != nil {
				fmt.Println("  END", err)
				break
			}
			n++
			if n < 4 || s.Is("SE") || s.Is("IEA") {
				fmt.Printf("  %d %q d=%q len=%d\n", r.SegmentIndex(), s.String(), []byte{r.Delims().Element, r.Delims().Component, r.Delims().Repetition, r.Delims().Segment}, s.Len())
			}
		}
		fh.Close()
	}
}

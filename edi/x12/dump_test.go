package x12

import (
	"context"
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
		if filepath.Ext(f) == ".md" {
			continue
		}
		fh, _ := os.Open(f)
		rep, err := (&Checker{}).Check(context.Background(), NewReader(fh))
		fmt.Println("==", filepath.Base(f), "err", err, "rejected", rep.Rejected, "warnings", rep.Warnings)
		for _, is := range rep.Issues {
			fmt.Println("   F", is)
		}
		for _, ic := range rep.Interchanges {
			fmt.Println("  IC", ic.Control, ic.Status, ic.Notes)
			for _, is := range ic.Issues {
				fmt.Println("     ", is)
			}
			for _, g := range ic.Groups {
				fmt.Println("   G", g.Control, g.Status, g.Codes)
				for _, is := range g.Issues {
					fmt.Println("     ", is)
				}
				for _, s := range g.Sets {
					fmt.Println("    S", s.ID, s.Control, s.Status, s.Codes, s.Schema)
					for _, e := range s.Errors {
						fmt.Printf("       E %+v\n", e)
					}
					for _, is := range s.Issues {
						fmt.Println("      ", is)
					}
				}
			}
		}
		fh.Close()
	}
}

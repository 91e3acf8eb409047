package app

import (
	"go/build"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestArchitectureImports checks the package table of docs/architecture.md
// against the code: every package of the module has a row, and each row's
// imports column names exactly the Wharf packages it imports (tests aside).
func TestArchitectureImports(t *testing.T) {
	const module = "github.com/wharfedi/wharf/"
	doc, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9/]+)` \\| .* \\| (none|(?:`[a-z0-9/]+`(?:, )?)+) \\|$")
	name := regexp.MustCompile("`([a-z0-9/]+)`")
	documented := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		pkg := m[1]
		documented[pkg] = true
		var want []string
		for _, n := range name.FindAllStringSubmatch(m[2], -1) {
			want = append(want, n[1])
		}
		bp, err := build.ImportDir(filepath.Join("../..", pkg), 0)
		if err != nil {
			t.Errorf("docs/architecture.md names %s: %v", pkg, err)
			continue
		}
		var got []string
		for _, imp := range bp.Imports {
			if rest, ok := strings.CutPrefix(imp, module); ok {
				got = append(got, rest)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("docs/architecture.md: %s imports %v, the table says %v", pkg, got, want)
		}
	}
	err = filepath.WalkDir("../..", func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel("../..", path)
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(rel, ".") && rel != "." || strings.Contains(rel, "testdata") || strings.HasPrefix(rel, "bench") {
			if rel != "." {
				return filepath.SkipDir
			}
		}
		if bp, err := build.ImportDir(path, 0); err == nil && rel != "." && len(bp.GoFiles) > 0 && !documented[rel] {
			t.Errorf("package %s has no row in docs/architecture.md", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

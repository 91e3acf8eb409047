package testenv

import (
	"os"
	"strings"
	"testing"
)

// Generated checks a file the code generates (docs/cli.md,
// docs/config.md): with update it writes got to path; otherwise it fails
// when the file differs, naming the first line that does and the command
// (regenerate) that brings it up to date.
func Generated(t testing.TB, path, got string, update bool, regenerate string) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if string(want) == got {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	i := 0
	for i < len(gl) && i < len(wl) && gl[i] == wl[i] {
		i++
	}
	line := func(ls []string) string {
		if i < len(ls) {
			return ls[i]
		}
		return "(end of file)"
	}
	t.Fatalf("%s is out of date: run %s\nfirst difference at line %d:\n  file:      %s\n  generated: %s", path, regenerate, i+1, line(wl), line(gl))
}

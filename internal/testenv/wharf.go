package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// WharfBinary builds cmd/wharf once per test binary, for tests that drive
// the program users run as a separate process (signals, kill -9, exit
// codes). Call RemoveWharfBinary from TestMain to delete it afterwards.
func WharfBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		noteSources()
		dir, err := os.MkdirTemp("", "wharf-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "wharf")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/wharfedi/wharf/cmd/wharf").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/wharf: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// RemoveWharfBinary deletes what WharfBinary built, if anything.
func RemoveWharfBinary() {
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
}

// noteSources opens every Go source file of the module and go.mod/go.sum.
// The binary is built by `go build`, which go test's result cache does not
// see; the files a test opens it does, so a change anywhere in the program
// under test runs such tests again instead of replaying a result.
func noteSources() {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return
	}
	root := filepath.Join(filepath.Dir(self), "..", "..") // internal/testenv -> the module
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") || d.Name() == "go.mod" || d.Name() == "go.sum" {
			if f, err := os.Open(path); err == nil {
				f.Close()
			}
		}
		return nil
	})
}

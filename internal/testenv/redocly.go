package testenv

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RedoclyVersion is the @redocly/cli (npm) that lints the OpenAPI
// document; keep it in step with REDOCLY_VERSION in .ci/run.
const RedoclyVersion = "2.77.0"

const redoclyHint = "npm install --prefix ~/.cache/wharf-peers/redocly-" + RedoclyVersion + " @redocly/cli@" + RedoclyVersion +
	" (.ci/run installs it there and exports WHARF_TEST_REDOCLY)"

// Redocly returns the redocly command of @redocly/cli, the OpenAPI
// linter: $WHARF_TEST_REDOCLY, else where .ci/run installs it (the peers'
// cache, like the libas2 peer), else redocly on PATH. It runs on node.
func Redocly(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		Missing(t, "node (for @redocly/cli)", "apt-get install -y nodejs npm; then "+redoclyHint, err)
		return ""
	}
	var candidates []string
	if p := os.Getenv("WHARF_TEST_REDOCLY"); p != "" {
		candidates = append(candidates, p)
	} else {
		if home, err := os.UserHomeDir(); err == nil {
			candidates = append(candidates, filepath.Join(home, ".cache", "wharf-peers", "redocly-"+RedoclyVersion, "node_modules", ".bin", "redocly"))
		}
		if p, err := exec.LookPath("redocly"); err == nil {
			candidates = append(candidates, p)
		}
	}
	for _, p := range candidates {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	Missing(t, "@redocly/cli "+RedoclyVersion+" (npm)", redoclyHint, errors.New("not installed"))
	return ""
}

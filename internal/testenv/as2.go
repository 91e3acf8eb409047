package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The AS2 peers (PEERS.md): the OpenSSL 3 CLI, BouncyCastle run as
// single-file Java programs, and npm libas2. .ci/as2-peers.sh installs
// the last two and exports WHARF_TEST_BC_CLASSPATH and WHARF_TEST_LIBAS2.

const as2PeersHint = "run . .ci/as2-peers.sh (installs the AS2 peers and exports the variables the tests read)"

const bcHint = "apt-get install -y default-jdk-headless libbcprov-java libbcpkix-java libbcutil-java (or . .ci/as2-peers.sh)"

// OpenSSL returns the path of the openssl CLI (version 3).
func OpenSSL(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		Missing(t, "openssl CLI", "apt-get install -y openssl", err)
		return ""
	}
	out, err := exec.Command(p, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "OpenSSL 3") {
		Missing(t, "OpenSSL 3 CLI", "apt-get install -y openssl", errors.New("openssl version: "+strings.TrimSpace(string(out))))
		return ""
	}
	return p
}

// BouncyCastle returns the java binary and the class path holding
// bcprov, bcpkix and bcutil.
func BouncyCastle(t testing.TB) (java, classpath string) {
	t.Helper()
	java, err := exec.LookPath("java")
	if err == nil {
		// The peer is a single-file source program: the launcher needs a JDK.
		_, err = exec.LookPath("javac")
	}
	if err != nil {
		Missing(t, "a JDK (java and javac, for the BouncyCastle peer)", bcHint, err)
		return "", ""
	}
	cp := os.Getenv("WHARF_TEST_BC_CLASSPATH")
	if cp == "" {
		cp = "/usr/share/java/bcprov.jar:/usr/share/java/bcpkix.jar:/usr/share/java/bcutil.jar"
	}
	for _, jar := range filepath.SplitList(cp) {
		if _, err := os.Stat(jar); err != nil {
			Missing(t, "BouncyCastle jars", bcHint, err)
			return "", ""
		}
	}
	return java, cp
}

// Libas2 returns node and the folder whose node_modules holds libas2 0.8.2.
func Libas2(t testing.TB) (node, dir string) {
	t.Helper()
	node, dir, what, err := findLibas2()
	if err != nil {
		Missing(t, what, as2PeersHint, err)
		return "", ""
	}
	return node, dir
}

// Libas2Peer is Libas2 for programs that are not tests (bench/as2): its
// error names what is missing and how to install it.
func Libas2Peer() (node, dir string, err error) {
	node, dir, what, err := findLibas2()
	if err != nil {
		return "", "", fmt.Errorf("%s unavailable (%v); to install it: %s", what, err, as2PeersHint)
	}
	return node, dir, nil
}

// findLibas2 looks for node and for libas2 in $WHARF_TEST_LIBAS2 (default
// ~/.cache/wharf-peers/libas2, where .ci/as2-peers.sh installs it); what
// names the missing piece.
func findLibas2() (node, dir, what string, err error) {
	node, err = exec.LookPath("node")
	if err != nil {
		return "", "", "node (libas2 peer)", err
	}
	dir = os.Getenv("WHARF_TEST_LIBAS2")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "wharf-peers", "libas2")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "libas2", "package.json")); err != nil {
		return "", "", "npm libas2 0.8.2 (with the pkijs 2.1.90 override)", err
	}
	return node, dir, "", nil
}

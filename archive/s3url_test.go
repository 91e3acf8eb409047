package archive_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/archive"
)

// Credentials come from the environment, or the secret key from a file
// (a container secret); the URL never carries them.
func TestParseS3URLCredentials(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "s3_secret_key")
	if err := os.WriteFile(secret, []byte("from-the-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env          map[string]string
		access, priv string
	}{
		{map[string]string{"WHARF_S3_ACCESS_KEY": "k", "WHARF_S3_SECRET_KEY": "s"}, "k", "s"},
		{map[string]string{"WHARF_S3_ACCESS_KEY": "k", "WHARF_S3_SECRET_KEY_FILE": secret}, "k", "from-the-file"},
		{map[string]string{"WHARF_S3_ACCESS_KEY": "k", "WHARF_S3_SECRET_KEY": "s", "WHARF_S3_SECRET_KEY_FILE": secret}, "k", "s"},
		{map[string]string{"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}, "a", "b"},
	} {
		cfg, err := archive.ParseS3URL("s3://bucket/prefix?endpoint=127.0.0.1:9000", func(k string) string { return tc.env[k] })
		if err != nil || cfg.AccessKey != tc.access || cfg.SecretKey != tc.priv {
			t.Errorf("%v: %q %q %v; want %q %q", tc.env, cfg.AccessKey, cfg.SecretKey, err, tc.access, tc.priv)
		}
	}
	_, err := archive.ParseS3URL("s3://bucket/prefix", func(k string) string {
		return map[string]string{"WHARF_S3_SECRET_KEY_FILE": secret + ".missing"}[k]
	})
	if err == nil || !strings.Contains(err.Error(), "WHARF_S3_SECRET_KEY_FILE") {
		t.Errorf("a missing secret file: %v", err)
	}
}

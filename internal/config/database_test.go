package config

import (
	"strings"
	"testing"
)

// Database addresses in either form (postgres:// URL or libpq
// keyword/value) are checked without ever echoing their password.
func TestDatabaseURLErrorsNeverHoldThePassword(t *testing.T) {
	cases := []struct {
		name, env, file, want string // want "" = valid
	}{
		{name: "keyword env", env: "host=db user=wharf password=hunter2 dbname=wharf"},
		{name: "keyword env quoted", env: "host=db user=wharf password='hun ter2' dbname=wharf"},
		{name: "url env", env: "postgres://wharf:hunter2@db/wharf"},
		{name: "keyword env unterminated", env: "host=db user=wharf password='hunter2 dbname=wharf", want: "environment: database.url: (unparseable database connection string) is not"},
		{name: "other scheme env", env: "mysql://wharf:hunter2@db/wharf", want: "mysql://wharf:xxxxx@db/wharf is not a postgres://"},
		{name: "url without host", env: "postgres:///wharf?password=hunter2", want: "postgres:///wharf?password=xxxxx is not"},
		{name: "url of a unix socket", env: "postgres://wharf:hunter2@/wharf?host=/run/postgresql"},
		{name: "url of a service", file: "postgres:///?service=wharf"},
		{name: "url of a unix socket, empty host", env: "postgres://wharf@/wharf?host=&password=hunter2", want: "postgres://wharf@/wharf?host=&password=xxxxx is not"},
		{name: "keyword file", file: "host=db user=wharf dbname=wharf"},
		{name: "keyword file password", file: "host=db user=wharf password=hunter2 dbname=wharf", want: "database.url: holds a password"},
		{name: "keyword file quoted password", file: "host=db password='hun ter2'", want: "database.url: holds a password"},
		{name: "url file query password", file: "postgres://wharf@db/wharf?password=hunter2", want: "database.url: holds a password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := "data: x\n"
			if tc.file != "" {
				body += "database:\n  url: \"" + strings.ReplaceAll(tc.file, `"`, `\"`) + "\"\n"
			}
			p := write(t, body)
			c, err := Load(p)
			if err != nil {
				t.Fatal(err)
			}
			c.ApplyEnv(func(k string) string { return map[string]string{"WHARF_DATABASE_URL": tc.env}[k] })
			err = c.Validate(jobs)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "hun ter2") {
				t.Fatalf("error leaks the password: %q", err)
			}
		})
	}
}

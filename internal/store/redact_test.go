package store_test

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

func TestRedactURLHidesPasswordsInBothForms(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"postgres://wharf:secret@db:5432/wharf", "postgres://wharf:xxxxx@db:5432/wharf"},
		{"postgresql://wharf@db/wharf?sslmode=require&password=secret", "postgresql://wharf@db/wharf?sslmode=require&password=xxxxx"},
		{"postgres://wharf@db/wharf", "postgres://wharf@db/wharf"},
		{"host=db user=wharf password=secret dbname=wharf", "host=db user=wharf password=xxxxx dbname=wharf"},
		{"host=db password = secret", "host=db password = xxxxx"},
		{"host=db password='se cret \\' more' dbname=wharf", "host=db password=xxxxx dbname=wharf"},
		{"password=secret", "password=xxxxx"},
		{"host=db sslpassword=secret sslkey=/k", "host=db sslpassword=xxxxx sslkey=/k"},
		{"host=db password='secret", "(unparseable database connection string)"},
		{"wharf:secret@db/wharf", "(unparseable database URL)"},
		{"host=db password=secret options='-c x://y'", "host=db password=xxxxx options='-c x://y'"},
		{"/var/lib/wharf/wharf.db", "/var/lib/wharf/wharf.db"},
	} {
		got := store.RedactURL(c.in)
		if got != c.want {
			t.Errorf("RedactURL(%q) = %q, want %q", c.in, got, c.want)
		}
		if strings.Contains(got, "secret") {
			t.Errorf("RedactURL(%q) = %q holds the password", c.in, got)
		}
	}
}

func TestInspectDSN(t *testing.T) {
	for _, c := range []struct {
		in           string
		pg, pw, fail bool
	}{
		{"postgres://wharf@db/wharf", true, false, false},
		{"postgres://wharf:secret@db/wharf", true, true, false},
		{"postgres://wharf@db/wharf?password=secret", true, true, false},
		{"host=db user=wharf dbname=wharf", true, false, false},
		{" host = db password=secret", true, true, false},
		{"host=db password='secret", true, false, true},
		{"wharf.db", false, false, false},
		{"data/a=b.db", false, false, false},
	} {
		pg, pw, err := store.InspectDSN(c.in)
		if pg != c.pg || pw != c.pw || (err != nil) != c.fail {
			t.Errorf("InspectDSN(%q) = %v, %v, %v; want %v, %v, fail %v", c.in, pg, pw, err, c.pg, c.pw, c.fail)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("InspectDSN(%q): error %q holds the password", c.in, err)
		}
	}
}

// Open's errors name the database without its password, in both forms, and
// a keyword/value string is PostgreSQL, not a SQLite file named after it.
func TestOpenErrorsNeverHoldThePassword(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Chdir(dir)
	for _, dsn := range []string{
		"postgres://wharf:secret@127.0.0.1:1/wharf?connect_timeout=2",
		"postgres://wharf:secret@127.0.0.1:1/wharf?connect_timeout=oops",
		"host=127.0.0.1 port=1 user=wharf password=secret dbname=wharf connect_timeout=2",
		"host=127.0.0.1 port=1 user=wharf password='secret' dbname=wharf connect_timeout=2",
		"host=127.0.0.1 port=notaport user=wharf password=secret dbname=wharf",
		"host=127.0.0.1 user=wharf password='secret dbname=wharf",
	} {
		st, err := store.Open(ctx, dsn)
		if err == nil {
			st.Close()
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q): %v", dsn, err)
		}
		if !strings.Contains(err.Error(), "postgres") {
			t.Errorf("Open(%q) did not try PostgreSQL: %v", dsn, err)
		}
	}
	if names, _ := os.ReadDir(dir); len(names) > 0 {
		t.Errorf("Open created %s: a connection string was taken for a SQLite file", names[0].Name())
	}
}

func TestKeywordDSNOpensPostgresAndDescribeHidesPassword(t *testing.T) {
	u, err := url.Parse(testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	kv := "host=" + u.Hostname() + " user=" + u.User.Username() + " password='se cret' dbname=" + strings.TrimPrefix(u.Path, "/")
	if p := u.Port(); p != "" {
		kv += " port=" + p
	}
	if pw, ok := u.User.Password(); ok {
		kv = strings.Replace(kv, "'se cret'", "'"+pw+"'", 1) // the test server needs its real password
	}
	kv += " search_path=" + u.Query().Get("search_path")
	st, err := store.Open(context.Background(), kv)
	if err != nil {
		t.Fatalf("Open(%s): %v", store.RedactURL(kv), err)
	}
	defer st.Close()
	if st.Driver() != "postgres" {
		t.Fatalf("driver %s", st.Driver())
	}
	if d := st.Describe(); strings.Contains(d, "se cret") || !strings.Contains(d, "password=xxxxx") {
		t.Fatalf("Describe() = %q", d)
	}
}

package store_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// TestHostaddr opens PostgreSQL through keyword strings with libpq's
// hostaddr: alone (it is the host), and beside a host name that does not
// resolve (the address is used, no lookup). pgx alone sends hostaddr to
// the server as a setting, which refuses it.
func TestHostaddr(t *testing.T) {
	ctx := context.Background()
	u, err := url.Parse(testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	if u.Hostname() == "" || strings.HasPrefix(u.Hostname(), "/") {
		t.Skip("the test database is reached over a socket: hostaddr needs an IP address")
	}
	pass, _ := u.User.Password()
	kw := "port=" + u.Port() + " user=" + u.User.Username() + " dbname=" + strings.TrimPrefix(u.Path, "/")
	if pass != "" {
		kw += " password='" + pass + "'"
	}
	for k, v := range u.Query() {
		kw += " " + k + "='" + v[0] + "'"
	}
	for _, dsn := range []string{"hostaddr=" + u.Hostname() + " " + kw, "host=wharf-db.invalid hostaddr=" + u.Hostname() + " " + kw} {
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatalf("%s: %v", store.RedactURL(dsn), err)
		}
		if _, err := st.NextCounter(ctx, "p", "n"); err != nil {
			t.Errorf("%s: %v", store.RedactURL(dsn), err)
		}
		st.Close()
	}
	for dsn, want := range map[string]string{
		"hostaddr=db.example " + kw:          `hostaddr "db.example" is not a numeric IP address`,
		"hostaddr=127.0.0.1,127.0.0.2 " + kw: "hostaddr lists several addresses",
	} {
		if _, err := store.Open(ctx, dsn); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", store.RedactURL(dsn), err, want)
		}
	}
}

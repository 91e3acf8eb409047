package store

import "testing"

func TestCacheable(t *testing.T) {
	for _, c := range []struct {
		q    string
		want bool
	}{
		{"SELECT 1", true},
		{"SELECT 1;", true},
		{"SELECT 1; \n -- done\n", true},
		{"SELECT 1; SELECT 2", false},
		{"CREATE TABLE a (x int);\n\nCREATE INDEX i ON a(x);", false},
		{"-- keep it; once\nUPDATE t SET x = 1 WHERE id = ?", true},
		{"UPDATE t SET x = /* a; b */ 1", true},
		{"SELECT 'a;b', \"c;d\", `e;f`, [g;h] FROM t", true},
		{"SELECT 'it''s; fine'", true},
		{"SELECT 1 -- trailing; comment", true},
		{"SELECT 1; /* then */ SELECT 2", false},
	} {
		if got := cacheable(c.q); got != c.want {
			t.Errorf("cacheable(%q) = %v, want %v", c.q, got, c.want)
		}
	}
}

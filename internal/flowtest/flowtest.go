// Package flowtest gives transport and delivery tests a real store (SQLite
// or PostgreSQL), a folder archive and the gateway over them, so each test
// checks "archived before acknowledged" against the real thing.
package flowtest

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/gateway"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// Env is one test's store, archive and gateway.
type Env struct {
	Store   store.Store
	Archive *archive.Archive
	Gateway *gateway.Gateway
}

// Databases names the drivers ForEachDB runs against.
var Databases = []string{"SQLite", "Postgres"}

// Open opens a fresh store of the named driver ("SQLite" or "Postgres"),
// registers the partners and builds an archive with opts (Blobs is set to a
// fresh folder when nil). A clock in opts.Now is the store's clock too, so
// the test's fixed time is the only time the flow sees.
func Open(t *testing.T, db string, opts archive.Options, partners ...string) *Env {
	t.Helper()
	ctx := context.Background()
	var sopts []store.Option
	if opts.Now != nil {
		sopts = append(sopts, store.WithClock(opts.Now))
	}
	st := testenv.OpenStore(t, db, sopts...)
	for _, p := range partners {
		if err := st.UpsertPartner(ctx, &store.Partner{ID: p, Name: p}); err != nil {
			t.Fatal(err)
		}
	}
	if opts.Blobs == nil {
		fsb, err := archive.NewFS(filepath.Join(t.TempDir(), "archive"))
		if err != nil {
			t.Fatal(err)
		}
		opts.Blobs = fsb
	}
	a, err := archive.New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Store: st, Archive: a, Gateway: &gateway.Gateway{Archive: a, Store: st}}
}

// ForEachDB runs f against SQLite and PostgreSQL.
func ForEachDB(t *testing.T, opts archive.Options, partners []string, f func(t *testing.T, e *Env)) {
	for _, db := range Databases {
		t.Run(db, func(t *testing.T) { f(t, Open(t, db, opts, partners...)) })
	}
}

// Bytes returns a message's archived bytes.
func (e *Env) Bytes(t *testing.T, id string) string {
	t.Helper()
	rc, _, err := e.Archive.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Inbound lists the partner's inbound messages, newest first.
func (e *Env) Inbound(t *testing.T, partner string) []*store.Message {
	t.Helper()
	ms, err := e.Store.SearchMessages(context.Background(), store.MessageFilter{PartnerID: partner, Direction: store.Inbound, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

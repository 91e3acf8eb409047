package web

import (
	"context"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// The console lists master data mismatches: a link on the exceptions page
// to the master_data exceptions, and only those.
func TestMasterDataMismatchesListed(t *testing.T) {
	f := newFixture(t, testenv.OpenStore(t, "SQLite"))
	ctx := context.Background()
	get := signIn(t, f.st, f.srv.URL, store.RoleAuditor)
	for _, x := range []*store.Exception{
		{Reason: "master_data", Owner: store.OwnerOperations, ObjectKind: "order", ObjectKey: "PO-7", PartnerID: "acme", DedupeKey: "master_data/m/1",
			Detail: "line 1: item Z-9 is not in the item master; held"},
		{Reason: "dispute", Owner: store.OwnerOperations, ObjectKind: "shipment", ObjectKey: "SH-1", PartnerID: "acme", DedupeKey: "dispute/SH-1",
			Detail: "charges 1200.00, tendered 1000.00"},
	} {
		if _, err := f.st.RaiseException(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	code, page := get("/ui/exceptions")
	if code != 200 || !strings.Contains(page, `id="master-data-link" `) || !strings.Contains(page, "/ui/exceptions?reason=master_data") {
		t.Fatalf("exceptions page: %d, no link to the master data mismatches", code)
	}
	if _, page := get("/ui/exceptions?reason=master_data"); !strings.Contains(page, "item Z-9 is not in the item master") || strings.Contains(page, "tendered 1000.00") {
		t.Fatal("the master data mismatches list is not only the master_data exceptions")
	}
}

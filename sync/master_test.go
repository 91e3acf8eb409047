package sync_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/mapping/canonical"
	wsync "github.com/wharfedi/wharf/sync"
)

const (
	itemMaster = `{"type":"master_data","version":"1","object":"item","mode":"full","records":[{"id":"A-1","unit":"each"},{"id":"B-2","unit":"case"}]}`
	custMaster = `{"type":"master_data","version":"1","object":"customer","mode":"full","records":[{"id":"BWG","name":"Bluewater Grocers"}]}`
	locMaster  = `{"type":"master_data","version":"1","object":"location","mode":"full","records":[{"id":"BWG-118","customer":"BWG","address":{"city":"Madison","state":"WI","postal_code":"53718"}}]}`
)

// masterOrder is an order from the ERP for customer cust, shipped to
// location shipTo (postal code zip), of item in unit.
func masterOrder(number, cust, shipTo, zip, item, unit string) string {
	return fmt.Sprintf(`{"type":"order","version":"1","order_number":%q,
		"parties":[{"role":"buyer","id":%q},{"role":"ship_to","id":%q,"address":{"city":"Madison","postal_code":%q}}],
		"lines":[{"line_number":"1","item":{"ids":[{"type":"sku","value":%q}]},"quantity":{"value":"5","unit":%q}}]}`, number, cust, shipTo, zip, item, unit)
}

type masterEnv struct {
	t   *testing.T
	ctx context.Context
	st  store.Store
	rec *recorder
	e   *wsync.Engine
	n   int
}

func newMasterEnv(t *testing.T, st store.Store, policy map[string]string) *masterEnv {
	clock := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	rec := &recorder{t: t, st: st, ids: map[string]string{}, x12: map[string]string{}}
	r := &wsync.Rules{Roles: map[string]string{"erp": "erp", "wms": "wms"},
		Ownership: map[string][]string{"order": {"erp"}, "item_master": {"erp"}, "customer_master": {"erp"}, "location_master": {"erp"}},
		Routes:    []wsync.Route{{Name: "to-wms", On: "order.created", To: "wms", Send: "json"}},
		Master:    policy}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	return &masterEnv{t: t, ctx: context.Background(), st: st, rec: rec, e: &wsync.Engine{Store: st, Rules: r, Sender: rec, Now: func() time.Time { return clock }}}
}

func (m *masterEnv) msg(partner string) *store.Message {
	m.t.Helper()
	m.n++
	msg := &store.Message{PartnerID: partner, Direction: store.Inbound, Transport: "test", RemoteName: fmt.Sprintf("file-%d.json", m.n)}
	if err := m.st.InsertMessage(m.ctx, msg); err != nil {
		m.t.Fatal(err)
	}
	return msg
}

func (m *masterEnv) apply(msg *store.Message, doc string) {
	m.t.Helper()
	d, err := canonical.Decode([]byte(doc))
	if err != nil {
		m.t.Fatal(err)
	}
	if err := m.e.Apply(m.ctx, msg, 1, d); err != nil {
		m.t.Fatalf("apply %s: %v", msg.RemoteName, err)
	}
}

func (m *masterEnv) order(number string) bool {
	m.t.Helper()
	_, err := m.st.GetSyncObject(m.ctx, "order", number)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		m.t.Fatal(err)
	}
	return err == nil
}

func (m *masterEnv) exceptions(number string) []*store.Exception {
	m.t.Helper()
	l, err := m.st.ListExceptions(m.ctx, store.ExceptionFilter{Statuses: []string{"open"}, Reason: "master_data", ObjectKey: number})
	if err != nil {
		m.t.Fatal(err)
	}
	return l
}

// Each policy: warn applies and routes with an exception, hold applies
// nothing until the master knows the record, reject refuses for good.
func TestMasterDataPolicies(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		for _, policy := range []string{wsync.MasterWarn, wsync.MasterHold, wsync.MasterReject} {
			t.Run(policy, func(t *testing.T) {
				m := newMasterEnv(t, st, map[string]string{"item": policy})
				po := "PO-" + policy
				m.apply(m.msg("erp"), itemMaster)
				file := m.msg("erp")
				m.apply(file, masterOrder(po, "BWG", "BWG-118", "53718", "Z-"+policy, "each"))
				ex := m.exceptions(po)
				if len(ex) != 1 || ex[0].Owner != store.OwnerOperations || !strings.Contains(ex[0].Detail, "item Z-"+policy+" is not in the item master") ||
					!strings.Contains(ex[0].Detail, policy) {
					t.Fatalf("exception: %+v", ex)
				}
				applied, routed := m.order(po), len(m.rec.sent)
				if want := policy == wsync.MasterWarn; applied != want || (routed == 1) != want {
					t.Fatalf("%s: order applied %v, routed %d", policy, applied, routed)
				}
				// The master learns the item (a delta); the same file is retried.
				m.apply(m.msg("erp"), `{"type":"master_data","version":"1","object":"item","mode":"delta","records":[{"id":"Z-`+policy+`","unit":"each"}]}`)
				m.apply(file, masterOrder(po, "BWG", "BWG-118", "53718", "Z-"+policy, "each"))
				if want := policy != wsync.MasterReject; m.order(po) != want {
					t.Fatalf("%s: after the master knows the item, applied %v, want %v", policy, m.order(po), want)
				}
				if policy == wsync.MasterHold && len(m.rec.sent) != 1 {
					t.Fatalf("hold: the released order was routed %d times", len(m.rec.sent))
				}
				// The held document's exception is resolved once it is applied;
				// warn's and reject's stay for a person.
				if open := len(m.exceptions(po)); (open == 0) != (policy == wsync.MasterHold) {
					t.Fatalf("%s: %d open master_data exceptions after the retry", policy, open)
				}
			})
		}
	})
}

// What disagrees with the master: an unknown customer, an item in another
// unit of measure, an unknown ship-to, a ship-to's other postal code; a
// master that was never loaded is not checked; masters come only from
// their owner; a full load replaces the master, a delta removes records.
func TestMasterDataMismatches(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		m := newMasterEnv(t, st, map[string]string{"customer": wsync.MasterHold, "item": wsync.MasterHold, "location": wsync.MasterHold})
		// No master loaded yet: nothing is checked.
		m.apply(m.msg("erp"), masterOrder("PO-0", "NOBODY", "NOWHERE", "00000", "NOTHING", "each"))
		if !m.order("PO-0") || len(m.exceptions("PO-0")) != 0 {
			t.Fatal("an order was checked against masters never loaded")
		}
		// Only the system of record loads a master.
		m.apply(m.msg("wms"), itemMaster)
		if n, _ := st.CountMasterRecords(m.ctx, "item"); n != 0 {
			t.Fatal("the WMS loaded the item master, which the ERP owns")
		}
		for _, md := range []string{itemMaster, custMaster, locMaster} {
			m.apply(m.msg("erp"), md)
		}
		for _, c := range []struct{ po, cust, shipTo, zip, item, unit, want string }{
			{"PO-1", "BWG", "BWG-118", "53718", "A-1", "each", ""},
			{"PO-2", "ACME", "BWG-118", "53718", "A-1", "each", "customer ACME (buyer) is not in the customer master"},
			{"PO-3", "BWG", "BWG-118", "53718", "B-2", "each", "line 1: item B-2 in unit each, the item master says case"},
			{"PO-4", "BWG", "BWG-999", "53718", "A-1", "each", "ship-to BWG-999 is not in the location master"},
			{"PO-5", "BWG", "BWG-118", "60601", "A-1", "each", "ship-to BWG-118: postal code 60601, the location master says 53718"},
		} {
			m.apply(m.msg("erp"), masterOrder(c.po, c.cust, c.shipTo, c.zip, c.item, c.unit))
			ex := m.exceptions(c.po)
			if c.want == "" {
				if len(ex) != 0 || !m.order(c.po) {
					t.Fatalf("%s agrees with the master: %d exceptions, applied %v", c.po, len(ex), m.order(c.po))
				}
				continue
			}
			if len(ex) != 1 || !strings.Contains(ex[0].Detail, c.want) || m.order(c.po) {
				t.Fatalf("%s: want a held document and %q, got applied %v, %+v", c.po, c.want, m.order(c.po), ex)
			}
		}
		// An inventory movement (a 944 receipt) naming an item the master
		// does not know is held too.
		for _, doc := range []string{
			`{"type":"inventory_movement","version":"1","movement":"receipt","number":"RC-1",
				"lines":[{"line_number":"3","item":{"ids":[{"type":"sku","value":"Z-8"}]},"quantity":{"value":"2","unit":"each"}}]}`,
		} {
			msg := m.msg("erp")
			m.apply(msg, doc)
			l, err := st.ListExceptions(m.ctx, store.ExceptionFilter{Statuses: []string{"open"}, Reason: "master_data", MessageID: msg.ID})
			if err != nil || len(l) != 1 || !strings.Contains(l[0].Detail, "is not in the item master") {
				t.Fatalf("%.40s...: want one master_data exception for its item, got %+v %v", doc, l, err)
			}
		}
		// A delta removes a record; a full load replaces the whole master.
		m.apply(m.msg("erp"), `{"type":"master_data","version":"1","object":"item","records":[{"id":"A-1","deleted":true}]}`)
		if _, err := st.GetMasterRecord(m.ctx, "item", "A-1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delta deletion: %v", err)
		}
		m.apply(m.msg("erp"), `{"type":"master_data","version":"1","object":"item","mode":"full","records":[{"id":"C-3"}]}`)
		if n, _ := st.CountMasterRecords(m.ctx, "item"); n != 1 {
			t.Fatalf("full load left %d items, want 1", n)
		}
		// A master of an unknown object is an exception, not a load.
		bad := m.msg("erp")
		m.apply(bad, `{"type":"master_data","version":"1","object":"vendor","records":[{"id":"V1"}]}`)
		if l, _ := st.ListExceptions(m.ctx, store.ExceptionFilter{Reason: "master_data", MessageID: bad.ID}); len(l) != 1 || !strings.Contains(l[0].Detail, `"vendor"`) {
			t.Fatalf("unknown master object: %+v", l)
		}
	})
}

func TestMasterDataRulesValidate(t *testing.T) {
	for _, c := range []struct {
		master map[string]string
		field  string
	}{
		{map[string]string{"vendor": "hold"}, "sync.master_data.vendor"},
		{map[string]string{"item": "block"}, "sync.master_data.item"},
	} {
		err := (&wsync.Rules{Master: c.master}).Validate()
		var re *wsync.RuleError
		if !errors.As(err, &re) || re.Field != c.field {
			t.Errorf("%v: %v, want an error naming %s", c.master, err, c.field)
		}
	}
}

package events_test

import (
	"strings"
	"testing"

	"github.com/wharfedi/wharf/events"
)

func TestDocument(t *testing.T) {
	doc := `{"type":"order","version":"1","order_number":"PO-1"}`
	for _, c := range []struct {
		name, body string
		header     map[string]string
		want       string // what is archived
		problem    string // "" or a part of the reason
	}{
		{"canonical", doc, nil, doc, ""},
		{"structured", `{"specversion":"1.0","id":"e1","source":"/wms","type":"x","data":` + doc + `}`, nil, doc, ""},
		{"structured by content type", `{"specversion":"1.0","id":"e1","source":"/wms","type":"x","data":` + doc + `}`,
			map[string]string{"content-type": "application/cloudevents+json; charset=utf-8"}, doc, ""},
		{"binary", doc, map[string]string{"ce-specversion": "1.0", "ce-id": "e2"}, doc, ""},
		{"binary over AMQP", doc, map[string]string{"cloudevents:specversion": "1.0"}, doc, ""},
		{"binary 0.3", doc, map[string]string{"ce-specversion": "0.3"}, doc, `specversion "0.3"`},
		{"structured 0.3", `{"specversion":"0.3","id":"e1","source":"/wms","type":"x","data":{}}`, nil, "", "only 1.0 is read"},
		{"no id", `{"specversion":"1.0","source":"/wms","type":"x","data":{}}`, nil, "", "needs id, source and type"},
		{"base64 data", `{"specversion":"1.0","id":"e1","source":"/wms","type":"x","data_base64":"e30="}`, nil, "", "no JSON object as data"},
		{"not JSON", `PO-1;42`, nil, `PO-1;42`, "not JSON"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, _, problem := events.Document(&events.In{Body: []byte(c.body), Header: c.header, Name: "wms.order"})
			want := c.want
			if want == "" {
				want = c.body // archived as it came
			}
			if string(got) != want || (c.problem == "") != (problem == "") || !strings.Contains(problem, c.problem) {
				t.Fatalf("archived %s, problem %q; want %s, problem containing %q", got, problem, want, c.problem)
			}
		})
	}
}

package canonical

import (
	"reflect"
	"testing"
)

// A document's keys are its references and its own identifiers: a status
// update is found by its shipment, an invoice by its number and shipment.
func TestKeys(t *testing.T) {
	st := &ShipmentStatus{Header: Header{Type: TypeShipmentStatus, References: []Reference{{Type: RefPRO, Value: "P1"}, {Type: RefShipmentID, Value: "SH-1"}}}, ShipmentID: "SH-1"}
	if got, want := Keys(st), []Reference{{Type: RefPRO, Value: "P1"}, {Type: RefShipmentID, Value: "SH-1"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("shipment status: %v, want %v (the shipment once)", got, want)
	}
	inv := &FreightInvoice{Header: Header{Type: TypeFreightInvoice}, InvoiceNumber: "INV-9", ShipmentID: "SH-1"}
	if got, want := Keys(inv), []Reference{{Type: RefInvoiceNumber, Value: "INV-9"}, {Type: RefShipmentID, Value: "SH-1"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("freight invoice: %v, want %v", got, want)
	}
	if got := Keys(&TenderResponse{Header: Header{Type: TypeTenderResponse}}); len(got) != 0 {
		t.Errorf("no identifiers: %v", got)
	}
}

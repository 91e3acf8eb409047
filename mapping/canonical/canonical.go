// Package canonical owns Wharf's canonical logistics documents: the one
// language the sync between ERP, TMS, WMS and invoicing speaks, whatever
// dialect (X12, CSV, fixed-width) a partner uses. It depends on the standard
// library only, so every other package may import it without cycles.
//
// Every document is a JSON object with "type" and "version" (Version, "1")
// followed by its fields in snake_case. Money and quantities are decimal
// strings (Decimal), never floats; times carry their zone (Time); business
// references are a typed list (Reference), so a PO, BOL or PRO number is
// found the same way in every document. docs/canonical.schema.json is the
// JSON Schema of these types; docs/mapping.md explains the maps.
//
// Compatibility: within version "1", fields are only added, never renamed
// or given another meaning. Readers ignore unknown fields.
package canonical

// Version is the version written in every document's "version" field.
const Version = "1"

// Document types, the value of the "type" field.
const (
	TypeOrder             = "order"
	TypeShipment          = "shipment"
	TypeShipmentStatus    = "shipment_status"
	TypeTenderResponse    = "tender_response"
	TypeWarehouseOrder    = "warehouse_order"
	TypeShipConfirmation  = "ship_confirmation"
	TypeInventoryMovement = "inventory_movement"
	TypeInventoryBalance  = "inventory_balance"
	TypeShipNotice        = "ship_notice"
	TypeFreightInvoice    = "freight_invoice"
	TypeInvoice           = "invoice"
	TypeAcknowledgment    = "acknowledgment"
	TypeMasterData        = "master_data"
)

// documentTypes is every document type, in order, with its Go type: the
// one list Types and New read, so a new type is one line here.
var documentTypes = []struct {
	typ string
	new func() Document
}{
	{TypeOrder, func() Document { return &Order{} }},
	{TypeShipment, func() Document { return &Shipment{} }},
	{TypeShipmentStatus, func() Document { return &ShipmentStatus{} }},
	{TypeTenderResponse, func() Document { return &TenderResponse{} }},
	{TypeWarehouseOrder, func() Document { return &WarehouseOrder{} }},
	{TypeShipConfirmation, func() Document { return &ShipConfirmation{} }},
	{TypeInventoryMovement, func() Document { return &InventoryMovement{} }},
	{TypeInventoryBalance, func() Document { return &InventoryBalance{} }},
	{TypeShipNotice, func() Document { return &ShipNotice{} }},
	{TypeFreightInvoice, func() Document { return &FreightInvoice{} }},
	{TypeInvoice, func() Document { return &Invoice{} }},
	{TypeAcknowledgment, func() Document { return &Acknowledgment{} }},
	{TypeMasterData, func() Document { return &MasterData{} }},
}

// Types lists every document type.
var Types = func() []string {
	out := make([]string, len(documentTypes))
	for i, t := range documentTypes {
		out[i] = t.typ
	}
	return out
}()

// A Document is one canonical document.
type Document interface {
	// Head returns the fields every document has.
	Head() *Header
}

// Header holds the fields every document has. Type and Version are always
// set; Source says where an inbound document came from and is not carried
// to outbound formats.
type Header struct {
	Type    string `json:"type"`
	Version string `json:"version"`
	// Purpose: original (default when empty), change, cancel, replace, confirm.
	Purpose    string      `json:"purpose,omitempty"`
	References []Reference `json:"references,omitempty"`
	Dates      []Date      `json:"dates,omitempty"`
	Parties    []Party     `json:"parties,omitempty"`
	Notes      []string    `json:"notes,omitempty"`
	Source     *Source     `json:"source,omitempty"`
}

// Head returns h.
func (h *Header) Head() *Header { return h }

// Source locates a document in the input it was mapped from.
type Source struct {
	Format      string `json:"format"` // x12, csv, flat
	Partner     string `json:"partner,omitempty"`
	Sender      string `json:"sender,omitempty"`   // QUALIFIER:ID (ISA05/06) or a layout's sender
	Receiver    string `json:"receiver,omitempty"` // ISA07/08
	Interchange string `json:"interchange,omitempty"`
	// Usage is "T" for test traffic (an interchange with ISA15 T), empty
	// for production. Test traffic is mapped and acknowledged but changes
	// no business object and follows only test routes (docs/sync.md).
	Usage   string `json:"usage,omitempty"`
	Group   string `json:"group,omitempty"`
	Set     string `json:"set,omitempty"`    // ST02
	SetID   string `json:"set_id,omitempty"` // ST01: 204, 214, ...
	Version string `json:"x12_version,omitempty"`
	Layout  string `json:"layout,omitempty"`
	Line    int    `json:"line,omitempty"`   // first line (CSV, fixed-width)
	Offset  int64  `json:"offset,omitempty"` // byte offset of the first segment or record
}

// Reference types: the canonical names of business keys. A qualifier no
// table names maps to ReferenceOther with the original Qualifier kept.
const (
	RefPO            = "po"
	RefBOL           = "bol"
	RefPRO           = "pro"
	RefShipmentID    = "shipment_id"
	RefLoadID        = "load_id"
	RefInvoiceNumber = "invoice_number"
	RefOrderNumber   = "order_number"
	RefCustomerRef   = "customer_reference"
	RefSeal          = "seal"
	RefAppointment   = "appointment"
	RefTracking      = "tracking"
	RefWarehouse     = "warehouse_order"
	RefDepartment    = "department"
	RefVendor        = "vendor"
	RefLot           = "lot"
	RefOther         = "other"
)

// Reference is one typed business reference.
type Reference struct {
	Type  string `json:"type"`
	Value string `json:"value"`
	// Qualifier is the source qualifier (L11/N9/REF), kept only when Type
	// is "other" so that the reference can be written back.
	Qualifier   string `json:"qualifier,omitempty"`
	Description string `json:"description,omitempty"`
}

// Date is a typed point in time, with an optional end for windows.
type Date struct {
	// Type: requested_pickup, requested_delivery, scheduled_pickup,
	// scheduled_delivery, ship, delivery, invoice, order, due, requested_ship,
	// expected_arrival, effective, report, other.
	Type      string `json:"type"`
	Time      Time   `json:"time"`
	Qualifier string `json:"qualifier,omitempty"` // source qualifier when Type is "other"
}

// Party is an organisation or place with a role.
type Party struct {
	// Role: shipper, consignee, bill_to, ship_to, ship_from, carrier, buyer,
	// seller, remit_to, warehouse, depositor, stop, supplier, other.
	Role        string    `json:"role"`
	Qualifier   string    `json:"qualifier,omitempty"` // source entity code when Role is "other"
	Name        string    `json:"name,omitempty"`
	IDQualifier string    `json:"id_qualifier,omitempty"` // N103: 1 DUNS, 92 assigned by buyer, 93 by seller, ...
	ID          string    `json:"id,omitempty"`
	Address     *Address  `json:"address,omitempty"`
	Contacts    []Contact `json:"contacts,omitempty"`
}

// Address is a postal address.
type Address struct {
	Lines      []string `json:"lines,omitempty"`
	City       string   `json:"city,omitempty"`
	State      string   `json:"state,omitempty"`
	PostalCode string   `json:"postal_code,omitempty"`
	Country    string   `json:"country,omitempty"`
}

// Contact is a person or desk to reach.
type Contact struct {
	Role  string `json:"role,omitempty"` // X12 contact function code (G61/PER 01)
	Name  string `json:"name,omitempty"`
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// Quantity is an amount of something in a unit.
type Quantity struct {
	Value Decimal `json:"value"`
	Unit  string  `json:"unit,omitempty"` // canonical units: each, case, pallet, lb, kg, ... or the source code
}

// Item identifies a product: typed IDs (sku, upc, gtin, buyer_part,
// vendor_part, ...) and a description.
type Item struct {
	IDs         []Reference `json:"ids,omitempty"`
	Description string      `json:"description,omitempty"`
	Lot         string      `json:"lot,omitempty"`
}

// Charge is one line of money: a freight charge, an accessorial, an
// allowance (negative amount) or a tax.
type Charge struct {
	Code        string    `json:"code,omitempty"` // accessorial or SAC code
	Description string    `json:"description,omitempty"`
	Amount      Decimal   `json:"amount"`
	Rate        Decimal   `json:"rate,omitempty"`
	RateBasis   string    `json:"rate_basis,omitempty"` // e.g. PH per hundredweight, FR flat
	Quantity    *Quantity `json:"quantity,omitempty"`
}

// Equipment is a trailer, container or vehicle.
type Equipment struct {
	Type   string  `json:"type,omitempty"` // canonical: dry_van, reefer, flatbed, container, ... or the source code
	Prefix string  `json:"prefix,omitempty"`
	Number string  `json:"number,omitempty"`
	Length Decimal `json:"length,omitempty"`
}

// Hazmat describes a hazardous material.
type Hazmat struct {
	UNNumber     string `json:"un_number,omitempty"`
	Class        string `json:"class,omitempty"`
	Description  string `json:"description,omitempty"`
	PackingGroup string `json:"packing_group,omitempty"`
}

// Measures are the totals of a shipment, stop or line.
type Measures struct {
	Weight     Decimal `json:"weight,omitempty"`
	WeightUnit string  `json:"weight_unit,omitempty"` // lb, kg
	Pieces     Decimal `json:"pieces,omitempty"`
	PieceUnit  string  `json:"piece_unit,omitempty"`
	Volume     Decimal `json:"volume,omitempty"`
	VolumeUnit string  `json:"volume_unit,omitempty"`
}

// Order is a purchase or sales order (X12 850).
type Order struct {
	Header
	OrderNumber string      `json:"order_number"`
	OrderType   string      `json:"order_type,omitempty"` // standalone, blanket, release, dropship, or the source code
	Currency    string      `json:"currency,omitempty"`
	Lines       []OrderLine `json:"lines,omitempty"`
	Total       Decimal     `json:"total,omitempty"`
	// FreightCharge is the freight the order's load tender offers the
	// carrier (ERP exports carry it); freight invoices are matched against it.
	FreightCharge Decimal `json:"freight_charge,omitempty"`
}

// OrderLine is one line of an Order or Invoice.
type OrderLine struct {
	LineNumber string   `json:"line_number,omitempty"`
	Item       Item     `json:"item"`
	Quantity   Quantity `json:"quantity"`
	UnitPrice  Decimal  `json:"unit_price,omitempty"`
	Dates      []Date   `json:"dates,omitempty"`
}

// Shipment is a load tender or shipment plan (X12 204).
type Shipment struct {
	Header
	ShipmentID    string      `json:"shipment_id"`
	Carrier       string      `json:"carrier,omitempty"` // SCAC
	PaymentMethod string      `json:"payment_method,omitempty"`
	Mode          string      `json:"mode,omitempty"` // transport method: truckload, ltl, rail, ... or the source code
	Equipment     []Equipment `json:"equipment,omitempty"`
	Stops         []Stop      `json:"stops,omitempty"`
	Totals        *Measures   `json:"totals,omitempty"`
	Charge        Decimal     `json:"charge,omitempty"`
}

// Stop is one pickup or delivery of a Shipment.
type Stop struct {
	Sequence   int         `json:"sequence"`
	Reason     string      `json:"reason,omitempty"` // load, unload, partial_load, partial_unload, or the source code
	Location   *Party      `json:"location,omitempty"`
	Dates      []Date      `json:"dates,omitempty"`
	References []Reference `json:"references,omitempty"`
	Measures   *Measures   `json:"measures,omitempty"`
	Lading     []Lading    `json:"lading,omitempty"`
	Notes      []string    `json:"notes,omitempty"`
}

// Lading is a commodity line of a stop.
type Lading struct {
	Description string    `json:"description,omitempty"`
	Measures    *Measures `json:"measures,omitempty"`
	Hazmat      *Hazmat   `json:"hazmat,omitempty"`
}

// ShipmentStatus reports milestones of a shipment (X12 214).
type ShipmentStatus struct {
	Header
	ShipmentID string        `json:"shipment_id,omitempty"`
	Carrier    string        `json:"carrier,omitempty"`
	Events     []StatusEvent `json:"events,omitempty"`
}

// StatusEvent is one milestone.
type StatusEvent struct {
	// Status: canonical milestone (picked_up, delivered, in_transit,
	// arrived_pickup, arrived_delivery, departed_pickup, ...) or the
	// source code when no table names it.
	Status          string    `json:"status"`
	Reason          string    `json:"reason,omitempty"` // normal, or the source reason code
	Time            *Time     `json:"time,omitempty"`
	Location        *Address  `json:"location,omitempty"`
	Equipment       string    `json:"equipment,omitempty"`
	Measures        *Measures `json:"measures,omitempty"`
	ProofOfDelivery string    `json:"proof_of_delivery,omitempty"` // signed by
	Appointment     string    `json:"appointment,omitempty"`       // appointment status code
}

// TenderResponse accepts or declines a load tender (X12 990).
type TenderResponse struct {
	Header
	ShipmentID string `json:"shipment_id"`
	Carrier    string `json:"carrier,omitempty"`
	Action     string `json:"action"` // accepted, declined, or the source code
	Reason     string `json:"reason,omitempty"`
	Date       *Time  `json:"date,omitempty"`
}

// WarehouseOrder asks a warehouse to ship (X12 940).
type WarehouseOrder struct {
	Header
	OrderNumber   string          `json:"order_number"`
	Carrier       string          `json:"carrier,omitempty"`
	Mode          string          `json:"mode,omitempty"`
	PaymentMethod string          `json:"payment_method,omitempty"`
	Lines         []WarehouseLine `json:"lines,omitempty"`
	Totals        *Measures       `json:"totals,omitempty"`
}

// WarehouseLine is one line of a warehouse order, confirmation or movement.
type WarehouseLine struct {
	LineNumber string    `json:"line_number,omitempty"`
	Item       Item      `json:"item"`
	Quantity   Quantity  `json:"quantity"`
	Ordered    *Quantity `json:"ordered,omitempty"` // confirmations: what was ordered
	Status     string    `json:"status,omitempty"`  // confirmations: line status code
	Reason     string    `json:"reason,omitempty"`  // adjustments: reason code
}

// ShipConfirmation confirms what a warehouse shipped (X12 945).
type ShipConfirmation struct {
	Header
	OrderNumber string          `json:"order_number"`
	ShipmentID  string          `json:"shipment_id,omitempty"`
	Carrier     string          `json:"carrier,omitempty"`
	Mode        string          `json:"mode,omitempty"`
	Lines       []WarehouseLine `json:"lines,omitempty"`
	Totals      *Measures       `json:"totals,omitempty"`
}

// InventoryMovement is stock moving in or within a warehouse: a transfer
// shipment (X12 943), a receipt (944) or an adjustment (947).
type InventoryMovement struct {
	Header
	Movement string          `json:"movement"` // transfer, receipt, adjustment
	Number   string          `json:"number"`
	Carrier  string          `json:"carrier,omitempty"`
	Mode     string          `json:"mode,omitempty"`
	Lines    []WarehouseLine `json:"lines,omitempty"`
	Totals   *Measures       `json:"totals,omitempty"`
}

// InventoryBalance reports stock on hand (X12 846).
type InventoryBalance struct {
	Header
	ReportID string        `json:"report_id"`
	Items    []BalanceItem `json:"items,omitempty"`
}

// BalanceItem is the stock of one item.
type BalanceItem struct {
	Item       Item            `json:"item"`
	Quantities []TypedQuantity `json:"quantities,omitempty"`
}

// TypedQuantity is a quantity with its meaning (on_hand, available,
// committed, on_order, damaged, or the source code).
type TypedQuantity struct {
	Type  string  `json:"type"`
	Value Decimal `json:"value"`
	Unit  string  `json:"unit,omitempty"`
}

// ShipNotice is an advance ship notice (X12 856) with its hierarchy kept as
// a flat list of levels pointing at their parents.
type ShipNotice struct {
	Header
	ShipmentID string      `json:"shipment_id"`
	Carrier    string      `json:"carrier,omitempty"`
	Levels     []ShipLevel `json:"levels,omitempty"`
}

// ShipLevel is one HL: shipment, order, tare, pack or item.
type ShipLevel struct {
	ID         string      `json:"id"`
	Parent     string      `json:"parent,omitempty"`
	Level      string      `json:"level"` // shipment, order, tare, pack, item, or the source code
	References []Reference `json:"references,omitempty"`
	Parties    []Party     `json:"parties,omitempty"`
	Item       *Item       `json:"item,omitempty"`
	Quantity   *Quantity   `json:"quantity,omitempty"`
	Measures   *Measures   `json:"measures,omitempty"`
}

// FreightInvoice is a carrier's invoice for a shipment (X12 210).
type FreightInvoice struct {
	Header
	InvoiceNumber string        `json:"invoice_number"`
	ShipmentID    string        `json:"shipment_id,omitempty"`
	Carrier       string        `json:"carrier,omitempty"`
	PaymentMethod string        `json:"payment_method,omitempty"`
	Currency      string        `json:"currency,omitempty"`
	Lines         []FreightLine `json:"lines,omitempty"`
	Totals        *Measures     `json:"totals,omitempty"`
	Total         Decimal       `json:"total"`
}

// FreightLine is one line of a freight invoice with its charges.
type FreightLine struct {
	LineNumber  string    `json:"line_number,omitempty"`
	Description string    `json:"description,omitempty"`
	Measures    *Measures `json:"measures,omitempty"`
	Charges     []Charge  `json:"charges,omitempty"`
}

// Invoice is a commercial invoice (X12 810).
type Invoice struct {
	Header
	InvoiceNumber string      `json:"invoice_number"`
	OrderNumber   string      `json:"order_number,omitempty"`
	Currency      string      `json:"currency,omitempty"`
	Lines         []OrderLine `json:"lines,omitempty"`
	Charges       []Charge    `json:"charges,omitempty"`
	Total         Decimal     `json:"total"`
}

// Acknowledgment is a functional acknowledgment (X12 997/999) of one group.
type Acknowledgment struct {
	Header
	Kind         string   `json:"kind"` // 997, 999
	FunctionalID string   `json:"functional_id"`
	Control      string   `json:"control"` // GS06 acknowledged
	Status       string   `json:"status"`  // accepted, accepted_with_errors, partially_accepted, rejected
	Included     int      `json:"included,omitempty"`
	Received     int      `json:"received,omitempty"`
	Accepted     int      `json:"accepted,omitempty"`
	Codes        []string `json:"codes,omitempty"`
	Sets         []AckSet `json:"sets,omitempty"`
}

// AckSet is the disposition of one acknowledged transaction set.
type AckSet struct {
	SetID   string     `json:"set_id"`
	Control string     `json:"control"`
	Status  string     `json:"status"`
	Codes   []string   `json:"codes,omitempty"`
	Errors  []AckError `json:"errors,omitempty"`
}

// AckError is one segment error (AK3/IK3) with its element errors.
type AckError struct {
	SegmentID string   `json:"segment_id"`
	Position  int      `json:"position"`
	Code      string   `json:"code,omitempty"`
	Elements  []string `json:"elements,omitempty"` // "position:code"
}

// Master data objects: what a MasterData document lists.
const (
	MasterCustomer = "customer"
	MasterItem     = "item"
	MasterLocation = "location"
)

// MasterData is an ERP's reference data of one kind: its customers, items
// or locations (ship-to addresses). Documents naming what the master does
// not know, or disagreeing with it, are checked against it (docs/sync.md).
type MasterData struct {
	Header
	Object string `json:"object"` // customer, item or location
	// Mode: "full" replaces every record of the object (what is not
	// listed is gone); "delta" (default) adds, changes and, with Deleted,
	// removes the records listed.
	Mode    string         `json:"mode,omitempty"`
	Records []MasterRecord `json:"records"`
}

// MasterRecord is one customer, item or location of a master.
type MasterRecord struct {
	ID   string `json:"id"` // customer number, item number (SKU) or location code
	Name string `json:"name,omitempty"`
	// Unit is an item's unit of measure (each, case, ...); documents
	// ordering it in another unit disagree with the master.
	Unit string `json:"unit,omitempty"`
	// Address is a location's address; a ship-to naming the location with
	// another postal code or city disagrees with the master.
	Address  *Address `json:"address,omitempty"`
	Customer string   `json:"customer,omitempty"` // a location's customer
	Deleted  bool     `json:"deleted,omitempty"`  // delta: the record is removed
}

package mapping

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/wharfedi/wharf/edi/x12"
)

// Code tables. Each translates a partner's code (an X12 qualifier, a CSV
// column value) to a canonical value and back. Names are the keys of
// Profile.Tables and of a partner's `mapping.codes` in the configuration.
const (
	TableReferences = "references" // L11, N9, REF qualifiers (X12 element 128) → reference type
	TableParties    = "parties"    // N1 entity codes (98) → party role
	TableDates      = "dates"      // G62 date qualifiers (432) → date type
	TableDTM        = "dtm"        // DTM qualifiers (374) → date type
	TableStatus     = "status"     // AT7 shipment status codes (1650) → milestone
	TableReasons    = "reasons"    // AT7 status reason codes (1651)
	TableUnits      = "units"      // units of measure (355)
	TableWeight     = "weight_units"
	TableVolume     = "volume_units"
	TableEquipment  = "equipment" // N7 equipment description codes (40)
	TablePayment    = "payment"   // shipment method of payment (146)
	TableMode       = "mode"      // transportation method (91)
	TableStops      = "stop_reasons"
	TablePurpose    = "purpose"    // transaction set purpose (353)
	TableW05        = "w05_status" // 940 order status (473)
	TableAction     = "tender_action"
	TableItems      = "item_ids" // product ID qualifiers (235)
	TableLevels     = "hl_levels"
	TableQuantities = "quantities" // 846 QTY qualifiers (673)
	TableOrderType  = "order_types"
)

// defaultTables are the built-in code lists, partner overrides go first.
// For the way back (canonical → code) the first pair naming a canonical
// value wins, so list the preferred code first.
var defaultTables = map[string][][2]string{
	TableReferences: {{"PO", "po"}, {"BM", "bol"}, {"CN", "pro"}, {"SI", "shipment_id"}, {"LO", "load_id"},
		{"IV", "invoice_number"}, {"OQ", "order_number"}, {"CR", "customer_reference"}, {"SN", "seal"},
		{"AO", "appointment"}, {"2I", "tracking"}, {"WH", "warehouse_order"}, {"DP", "department"},
		{"VR", "vendor"}, {"LT", "lot"}, {"P8", "pickup_number"}, {"MB", "master_bol"}, {"BN", "booking"}},
	TableParties: {{"SH", "shipper"}, {"CN", "consignee"}, {"BT", "bill_to"}, {"ST", "ship_to"},
		{"SF", "ship_from"}, {"CA", "carrier"}, {"BY", "buyer"}, {"SE", "seller"}, {"RE", "remit_to"},
		{"WH", "warehouse"}, {"DE", "depositor"}, {"SU", "supplier"}, {"VN", "vendor"}, {"RI", "remit_to"},
		{"PF", "freight_payer"}},
	TableDates: {{"10", "requested_pickup"}, {"02", "requested_delivery"}, {"11", "ship"}, {"17", "estimated_delivery"},
		{"35", "delivery"}, {"37", "pickup_not_before"}, {"38", "pickup_no_later"}, {"53", "delivery_not_before"},
		{"54", "delivery_no_later"}, {"64", "respond_by"}, {"69", "scheduled_pickup"}, {"70", "scheduled_delivery"},
		{"86", "actual_pickup"}, {"BB", "invoice"}, {"12", "invoice"}},
	TableDTM: {{"011", "ship"}, {"017", "estimated_delivery"}, {"002", "requested_delivery"}, {"035", "delivery"},
		{"010", "requested_ship"}, {"003", "invoice"}, {"004", "order"}, {"067", "expected_arrival"},
		{"007", "effective"}, {"405", "report"}, {"037", "pickup_not_before"}, {"038", "pickup_no_later"}},
	// picked_up: CP "Completed Loading at Pick-up Location" (the shipment
	// is picked up); AF, departing with it, is departed_pickup.
	TableStatus: {{"X3", "arrived_pickup"}, {"CP", "picked_up"}, {"AF", "departed_pickup"}, {"X6", "in_transit"}, {"X1", "arrived_delivery"},
		{"D1", "delivered"}, {"CD", "departed_delivery"}, {"AG", "estimated_delivery"}, {"SD", "delayed"},
		{"AA", "pickup_appointment"}, {"AB", "delivery_appointment"}, {"P1", "departed_terminal"},
		{"X4", "arrived_terminal"}, {"A3", "returned"}, {"A7", "refused"}, {"J1", "interline"}},
	TableReasons: {{"NS", "normal"}},
	TableUnits: {{"EA", "each"}, {"CA", "case"}, {"PL", "pallet"}, {"PLT", "pallet"}, {"LB", "lb"}, {"KG", "kg"},
		{"BX", "box"}, {"CT", "carton"}, {"PC", "piece"}, {"DZ", "dozen"}, {"GA", "gallon"}},
	TableWeight:    {{"L", "lb"}, {"K", "kg"}},
	TableVolume:    {{"E", "cubic_feet"}, {"X", "cubic_meters"}},
	TableEquipment: {{"TV", "dry_van"}, {"TL", "trailer"}, {"RT", "reefer"}, {"FT", "flatbed"}, {"CN", "container"}, {"TF", "dry_van"}},
	TablePayment:   {{"PP", "prepaid"}, {"CC", "collect"}, {"TP", "third_party"}},
	TableMode:      {{"M", "motor"}, {"LT", "ltl"}, {"TL", "truckload"}, {"R", "rail"}, {"A", "air"}, {"S", "ocean"}, {"H", "customer_pickup"}},
	TableStops:     {{"LD", "load"}, {"UL", "unload"}, {"PL", "partial_load"}, {"PU", "partial_unload"}, {"CL", "complete_load"}, {"CU", "complete_unload"}},
	TablePurpose:   {{"00", "original"}, {"01", "cancel"}, {"04", "change"}, {"05", "replace"}, {"06", "confirm"}},
	TableW05:       {{"N", "original"}, {"R", "replace"}, {"F", "cancel"}},
	TableAction:    {{"A", "accepted"}, {"D", "declined"}},
	TableItems:     {{"SK", "sku"}, {"UP", "upc"}, {"UK", "gtin"}, {"EN", "ean"}, {"VN", "vendor_part"}, {"VP", "vendor_part"}, {"BP", "buyer_part"}, {"IN", "buyer_part"}, {"LT", "lot"}},
	TableLevels:    {{"S", "shipment"}, {"O", "order"}, {"T", "tare"}, {"P", "pack"}, {"I", "item"}},
	TableQuantities: {{"33", "available"}, {"17", "on_hand"}, {"02", "committed"}, {"QO", "on_order"}, {"QD", "damaged"},
		{"01", "discrete"}},
	TableOrderType: {{"SA", "standalone"}, {"BK", "blanket"}, {"RL", "release"}, {"DS", "dropship"}},
}

// TableNames lists the code tables a profile may override.
func TableNames() []string {
	var n []string
	for k := range defaultTables {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

type table struct {
	in  map[string]string // code → canonical
	out map[string]string // canonical → code
}

func (t *table) add(code, canon string, override bool) {
	if _, ok := t.in[code]; !ok || override {
		t.in[code] = canon
	}
	if _, ok := t.out[canon]; !ok || override {
		t.out[canon] = code
	}
}

// Profile is everything about one partner's dialect that is data, not
// code: code translations, the time zone of times without one, defaults,
// the policy on bad documents and the outbound envelope. Build it with
// NewProfile; a Profile is read-only afterwards and safe for concurrent use.
type Profile struct {
	Partner string
	// Location is the partner's time zone, used for X12 local times
	// (time code LT or none) and for CSV times without a zone.
	Location *time.Location
	// Policy says what a bad document does to its file.
	Policy Policy
	// Defaults fill canonical fields the input leaves empty, keyed by
	// "TYPE.FIELD" (for example "shipment.carrier", "shipment.payment_method",
	// "freight_invoice.currency").
	Defaults map[string]string
	// Envelope is the outbound X12 interchange and group header.
	Envelope Envelope
	tables   map[string]*table
}

// Envelope holds the outbound ISA/GS identities and options.
type Envelope struct {
	SenderQual, SenderID     string // ISA05/06 (Wharf's own)
	ReceiverQual, ReceiverID string // ISA07/08 (the partner)
	GSSender, GSReceiver     string // GS02/03, default the ISA IDs
	Version                  string // GS08, default 004010
	Usage                    string // ISA15 P or T, default P
	AckRequested             bool
	// G62TimeQualifier is written in G6203 when a time is given (default "Z").
	G62TimeQualifier string
	// Delimiters, when Element is set, pins the partner's delimiters: a
	// value holding one of them is an error naming its segment and element.
	// Zero picks, per interchange, the first of DelimiterSets that occurs
	// in no value.
	Delimiters x12.Delimiters
}

// ProfileSpec is the data of a partner profile, as the configuration gives it.
type ProfileSpec struct {
	Partner  string
	TimeZone string                       // IANA name; default UTC
	Policy   string                       // "quarantine" (default) or "reject"
	Codes    map[string]map[string]string // table → code → canonical value
	Defaults map[string]string
	Envelope Envelope
}

// NewProfile builds a profile from its data, checking it.
func NewProfile(s ProfileSpec) (*Profile, error) {
	p := &Profile{Partner: s.Partner, Defaults: s.Defaults, Envelope: s.Envelope, Location: time.UTC, tables: map[string]*table{}}
	if s.TimeZone != "" {
		loc, err := time.LoadLocation(s.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("mapping: time zone %q: %v", s.TimeZone, err)
		}
		p.Location = loc
	}
	switch s.Policy {
	case "", "quarantine":
		p.Policy = Quarantine
	case "reject":
		p.Policy = Reject
	default:
		return nil, fmt.Errorf("mapping: policy %q: use quarantine or reject", s.Policy)
	}
	for name := range s.Codes {
		if _, ok := defaultTables[name]; !ok {
			return nil, fmt.Errorf("mapping: unknown code table %q (known: %s)", name, strings.Join(TableNames(), ", "))
		}
	}
	for name, pairs := range defaultTables {
		t := &table{in: map[string]string{}, out: map[string]string{}}
		// Overrides first, sorted so the way back is deterministic.
		ov := s.Codes[name]
		codes := make([]string, 0, len(ov))
		for c := range ov {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		for _, c := range codes {
			t.add(c, ov[c], true)
		}
		for _, pr := range pairs {
			t.add(pr[0], pr[1], false)
		}
		p.tables[name] = t
	}
	if p.Defaults == nil {
		p.Defaults = map[string]string{}
	}
	if p.Envelope.Version == "" {
		p.Envelope.Version = "004010"
	}
	if p.Envelope.G62TimeQualifier == "" {
		p.Envelope.G62TimeQualifier = "Z"
	}
	return p, nil
}

// DefaultProfile returns the profile with built-in tables only, UTC times
// and the quarantine policy.
func DefaultProfile() *Profile {
	p, err := NewProfile(ProfileSpec{})
	if err != nil {
		panic(err)
	}
	return p
}

// In translates a code to its canonical value; unknown codes are returned
// unchanged with ok false.
func (p *Profile) In(tbl, code string) (string, bool) {
	if v, ok := p.tables[tbl].in[code]; ok {
		return v, true
	}
	return code, false
}

// Out translates a canonical value to the partner's code; a value no
// table names is returned unchanged with ok false (it is taken as a code).
func (p *Profile) Out(tbl, canon string) (string, bool) {
	if v, ok := p.tables[tbl].out[canon]; ok {
		return v, true
	}
	return canon, false
}

// Default returns the default for "TYPE.FIELD", or "".
func (p *Profile) Default(key string) string { return p.Defaults[key] }

package store

import (
	"context"
	"fmt"
	"time"
)

// MasterRecord is one record of the ERP's master data: a customer, an
// item or a location, its canonical JSON as Data.
type MasterRecord struct {
	Object    string    `json:"object"` // customer, item, location
	ID        string    `json:"id"`
	Data      string    `json:"data"`       // canonical.MasterRecord as JSON
	MessageID string    `json:"message_id"` // the master data file it came from
	UpdatedAt time.Time `json:"updated_at"`
}

// PutMasterParams replace or change one object's master records.
type PutMasterParams struct {
	Object string
	// Full: the records are the whole master; every other record of the
	// object is removed. Otherwise they are added or changed, and those
	// of Delete removed.
	Full      bool
	Records   []*MasterRecord
	Delete    []string
	MessageID string
}

// MasterQueries keep the master data documents are checked against.
type MasterQueries interface {
	// PutMasterRecords applies a full or delta master data load.
	PutMasterRecords(ctx context.Context, p *PutMasterParams) error
	// GetMasterRecord returns one record; ErrNotFound when the master does
	// not know it.
	GetMasterRecord(ctx context.Context, object, id string) (*MasterRecord, error)
	// CountMasterRecords counts an object's records (0: no master loaded).
	CountMasterRecords(ctx context.Context, object string) (int, error)
}

func (s *queries) PutMasterRecords(ctx context.Context, p *PutMasterParams) error {
	if p.Object == "" {
		return fmt.Errorf("store: put master records: %w: the object is required", ErrInvalid)
	}
	at := s.now()
	if p.Full {
		if _, err := s.q.exec(ctx, `DELETE FROM master_records WHERE object = $1`, p.Object); err != nil {
			return s.err("replace "+p.Object+" master", err)
		}
	}
	for _, r := range p.Records {
		if r.ID == "" {
			return fmt.Errorf("store: put %s master record: %w: the id is required", p.Object, ErrInvalid)
		}
		if _, err := s.q.exec(ctx, `INSERT INTO master_records (object, id, data, message_id, updated_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (object, id) DO UPDATE SET data = excluded.data, message_id = excluded.message_id, updated_at = excluded.updated_at`,
			p.Object, r.ID, r.Data, p.MessageID, at); err != nil {
			return s.err("put "+p.Object+" "+r.ID, err)
		}
	}
	for _, id := range p.Delete {
		if _, err := s.q.exec(ctx, `DELETE FROM master_records WHERE object = $1 AND id = $2`, p.Object, id); err != nil {
			return s.err("delete "+p.Object+" "+id, err)
		}
	}
	return nil
}

func (s *queries) GetMasterRecord(ctx context.Context, object, id string) (*MasterRecord, error) {
	r := &MasterRecord{Object: object, ID: id}
	err := s.q.queryRow(ctx, `SELECT data, message_id, updated_at FROM master_records WHERE object = $1 AND id = $2`, object, id).
		Scan(&r.Data, &r.MessageID, timeCol{&r.UpdatedAt})
	if err != nil {
		return nil, s.err(object+" "+id, err)
	}
	return r, nil
}

func (s *queries) CountMasterRecords(ctx context.Context, object string) (int, error) {
	var n int
	err := s.q.queryRow(ctx, `SELECT COUNT(*) FROM master_records WHERE object = $1`, object).Scan(&n)
	return n, s.err("count "+object+" master", err)
}

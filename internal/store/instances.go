package store

import (
	"context"
	"time"
)

// Instance is a running wharf serve on this database.
type Instance struct {
	ID          string    `json:"id"`
	Host        string    `json:"host"`
	PID         int       `json:"pid"`
	Version     string    `json:"version"`
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
}

// InstanceQueries record the instances' heartbeats (instances.go).
type InstanceQueries interface {
	// BeatInstance records the instance (first call) or its heartbeat, at
	// the store's clock.
	BeatInstance(ctx context.Context, in *Instance) error
	// Instances lists the instances that announced themselves, oldest first.
	Instances(ctx context.Context) ([]*Instance, error)
	// RemoveInstance forgets an instance (stopped, or declared gone); it
	// reports whether a row was removed, so that of two survivors declaring
	// one instance gone only one acts on it.
	RemoveInstance(ctx context.Context, id string) (bool, error)
}

func (s *queries) BeatInstance(ctx context.Context, in *Instance) error {
	now := s.now()
	if in.StartedAt.IsZero() {
		in.StartedAt = now
	}
	in.HeartbeatAt = now
	_, err := s.q.exec(ctx, `INSERT INTO instances (id, host, pid, version, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
		in.ID, in.Host, in.PID, in.Version, in.StartedAt.UTC().Truncate(time.Microsecond), now)
	return s.err("instance heartbeat", err)
}

func (s *queries) Instances(ctx context.Context) ([]*Instance, error) {
	rows, err := s.q.query(ctx, `SELECT id, host, pid, version, started_at, heartbeat_at FROM instances ORDER BY started_at, id`)
	if err != nil {
		return nil, s.err("instances", err)
	}
	defer rows.Close()
	var out []*Instance
	for rows.Next() {
		in := &Instance{}
		if err := rows.Scan(&in.ID, &in.Host, &in.PID, &in.Version, timeCol{&in.StartedAt}, timeCol{&in.HeartbeatAt}); err != nil {
			return nil, s.err("instances", err)
		}
		out = append(out, in)
	}
	return out, s.err("instances", rows.Err())
}

func (s *queries) RemoveInstance(ctx context.Context, id string) (bool, error) {
	n, err := s.q.exec(ctx, `DELETE FROM instances WHERE id = $1`, id)
	return n > 0, s.err("remove instance", err)
}

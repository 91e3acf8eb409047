package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wharfedi/wharf/internal/store"
)

// Instances: every Runtime that works jobs announces itself in the store
// (store.Instance, its ID also River's client ID, so the jobs it fetches
// name it in attempted_by) and beats every Options.Heartbeat. Every
// instance also watches the others: one whose heartbeat is older than
// Options.FailoverAfter has crashed or lost the database, and the first
// survivor to notice removes its row and returns the jobs it was running
// and the messages it had claimed for processing (queue.go) to the queue,
// in one transaction, so they are returned exactly once and
// run within seconds instead of after River's stuck-job rescue (15
// minutes). A clean Stop removes the instance's own row.
//
// An instance that was only paused (a partition, a very long GC) and comes
// back finds its jobs running elsewhere: the stages are idempotent per
// message, so the work is repeated, never lost or doubled in its effects.

const defaultHeartbeat = 5 * time.Second

// DefaultFailoverAfter is Options.FailoverAfter when none is given
// (jobs.failover_after).
const DefaultFailoverAfter = 30 * time.Second

// beat records this instance's heartbeat, then fails over instances whose
// heartbeat stopped.
func (rt *Runtime) beat(ctx context.Context) {
	if err := rt.st.BeatInstance(ctx, &rt.self); err != nil {
		rt.log.Warn("jobs: instance heartbeat", "instance", rt.self.ID, "err", err)
		return // without our own heartbeat we may be the one cut off: judge nobody
	}
	if n, err := rt.st.ReleaseOrphanedProcessing(ctx); err != nil {
		rt.log.Warn("jobs: return orphaned processing claims", "err", err)
	} else if n > 0 {
		rt.log.Warn("messages claimed by an instance that is not registered are back in the queue", "messages", n)
	}
	if err := rt.catchUpLate(ctx); err != nil {
		rt.log.Warn("jobs: catch up missed schedule slots", "err", err)
	}
	all, err := rt.st.Instances(ctx)
	if err != nil {
		rt.log.Warn("jobs: list instances", "err", err)
		return
	}
	now := rt.opts.Now()
	for _, in := range all {
		if in.ID == rt.self.ID {
			continue
		}
		if now.Sub(in.HeartbeatAt) < rt.opts.FailoverAfter && !DeadHere(in) {
			continue
		}
		n, err := rt.failover(ctx, in.ID)
		if err != nil {
			rt.log.Warn("jobs: fail over a silent instance", "instance", in.ID, "err", err)
			continue
		}
		if n >= 0 {
			rt.log.Warn("an instance stopped beating: its running jobs and claimed messages are back in the queue", "instance", in.ID,
				"host", in.Host, "pid", in.PID, "last_heartbeat", in.HeartbeatAt, "jobs", n, "by", rt.self.ID)
			rt.failovers.Add(float64(n))
		}
	}
}

// DeadHere tells whether in ran on this machine (its host name) and its
// process is gone: this machine's earlier run, killed. Containers
// restarted on one host get new host names, and a PID reused by another
// process reads as alive: both are judged by their heartbeat instead.
func DeadHere(in *store.Instance) bool {
	host, _ := os.Hostname()
	if in.Host == "" || in.Host != host || in.PID <= 0 {
		return false
	}
	return errors.Is(syscall.Kill(in.PID, 0), syscall.ESRCH)
}

// failover removes the instance and requeues the jobs it was running, in
// one transaction; -1 when another survivor did it first.
func (rt *Runtime) failover(ctx context.Context, id string) (int64, error) {
	n := int64(-1)
	err := rt.st.WithTx(ctx, func(tx store.Tx) error {
		removed, err := tx.RemoveInstance(ctx, id)
		if err != nil || !removed {
			return err
		}
		switch raw := tx.Raw().(type) {
		case pgx.Tx:
			tag, err := raw.Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now()
				WHERE state = 'running' AND attempted_by[array_upper(attempted_by, 1)] = $1`, id)
			if err != nil {
				return err
			}
			n = tag.RowsAffected()
		case *sql.Tx:
			res, err := raw.ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = strftime('%Y-%m-%d %H:%M:%f', 'now')
				WHERE state = 'running' AND json_extract(attempted_by, '$[#-1]') = ?`, id)
			if err != nil {
				return err
			}
			n, _ = res.RowsAffected()
		default:
			return fmt.Errorf("unsupported transaction %T", raw)
		}
		claims, err := tx.ReleaseProcessing(ctx, id)
		n += claims
		return err
	})
	return n, err
}

// heartbeats beats until ctx ends.
func (rt *Runtime) heartbeats(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(rt.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rt.beat(ctx)
		}
	}
}

package state

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	_ Journaled = (*DuckStore)(nil)
	_ Journaled = (*PgStore)(nil)
)

// RunLog implements Journaled.
func (s *DuckStore) RunLog(ctx context.Context, conn *sql.Conn) ([]Run, error) {
	if !s.attached {
		return nil, nil
	}
	rows, err := conn.QueryContext(ctx, `SELECT run_id, started_at, finished_at, status, plan_hash, report FROM st.runs ORDER BY started_at, run_id`)
	if err != nil {
		return nil, fmt.Errorf("read run journal: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("read run journal: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CommitLog implements Journaled.
func (s *DuckStore) CommitLog(ctx context.Context, conn *sql.Conn) ([]JournalEntry, error) {
	if !s.attached {
		return nil, nil
	}
	rows, err := conn.QueryContext(ctx, `SELECT run_id, committed_at, serial, acked, rejected FROM st.journal ORDER BY serial`)
	if err != nil {
		return nil, fmt.Errorf("read commit journal: %w", err)
	}
	defer rows.Close()
	var out []JournalEntry
	for rows.Next() {
		var e JournalEntry
		if err := rows.Scan(&e.RunID, &e.CommittedAt, &e.Serial, &e.Acked, &e.Rejected); err != nil {
			return nil, fmt.Errorf("read commit journal: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// setTimesAndReport finishes a row of Journal.Runs as both stores read it: its times in UTC (NULL: zero) and
// an empty report as none.
func (e *RunEntry) setTimesAndReport(started, finished *time.Time, report string) {
	if started != nil {
		e.StartedAt = started.UTC()
	}
	if finished != nil {
		e.FinishedAt = finished.UTC()
	}
	if report != "" {
		e.Report = []byte(report)
	}
}

// scanRun reads a row of RunLog's query in either store: run_id, then started_at, finished_at, status,
// plan_hash and report, each of which may be NULL (read as zero).
func scanRun(scan func(dest ...any) error) (Run, error) {
	var r Run
	var started, finished *time.Time
	var status, hash, report *string
	if err := scan(&r.ID, &started, &finished, &status, &hash, &report); err != nil {
		return Run{}, err
	}
	r.StartedAt, r.FinishedAt, r.Status, r.PlanHash, r.Report = deref(started), deref(finished), deref(status), deref(hash), []byte(deref(report))
	return r, nil
}

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}

// hasTables reports whether the installation's schema exists (a store never written reads as empty).
func (s *PgStore) hasTables(ctx context.Context, c *pgx.Conn) (bool, error) {
	var reg *string
	if err := c.QueryRow(ctx, `SELECT to_regclass($1)::text`, pgx.Identifier{s.schema, "runs"}.Sanitize()).Scan(&reg); err != nil {
		return false, s.errf(err, "postgres state %s", s)
	}
	return reg != nil, nil
}

// RunLog implements Journaled. It reads PostgreSQL directly: it needs no Open (conn may be nil).
func (s *PgStore) RunLog(ctx context.Context, conn *sql.Conn) ([]Run, error) {
	c, err := s.data(ctx)
	if err != nil {
		return nil, err
	}
	if ok, err := s.hasTables(ctx, c); !ok || err != nil {
		return nil, err
	}
	rows, err := c.Query(ctx, s.q(`SELECT run_id, started_at, finished_at, status, plan_hash, report FROM {s}.runs WHERE pipeline = $1 ORDER BY started_at, run_id`), s.pipeline)
	if err != nil {
		return nil, s.errf(err, "postgres state %s: read run journal", s)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Run, error) { return scanRun(row.Scan) })
	if err != nil {
		return nil, s.errf(err, "postgres state %s: read run journal", s)
	}
	return out, nil
}

// CommitLog implements Journaled. It reads PostgreSQL directly: it needs no Open (conn may be nil).
func (s *PgStore) CommitLog(ctx context.Context, conn *sql.Conn) ([]JournalEntry, error) {
	c, err := s.data(ctx)
	if err != nil {
		return nil, err
	}
	if ok, err := s.hasTables(ctx, c); !ok || err != nil {
		return nil, err
	}
	rows, err := c.Query(ctx, s.q(`SELECT run_id, committed_at, serial, acked, rejected FROM {s}.journal WHERE pipeline = $1 ORDER BY serial`), s.pipeline)
	if err != nil {
		return nil, s.errf(err, "postgres state %s: read commit journal", s)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (JournalEntry, error) {
		var e JournalEntry
		err := row.Scan(&e.RunID, &e.CommittedAt, &e.Serial, &e.Acked, &e.Rejected)
		return e, err
	})
	if err != nil {
		return nil, s.errf(err, "postgres state %s: read commit journal", s)
	}
	return out, nil
}

// StatusInterrupted is the journal status of a run that was still applying when another run took the
// pipeline's lock: it was killed, or fenced out (it lost its lock), and never finished. The run that took
// the lock settles what it left (its intents).
const StatusInterrupted = "interrupted"

// markInterrupted marks the runs journaled as applying in the attached local state as interrupted (its
// caller holds the lock, so none of them is alive).
func markInterrupted(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `UPDATE st.runs SET status = ? WHERE status = 'applying'`, StatusInterrupted); err != nil {
		return fmt.Errorf("mark interrupted runs: %w", err)
	}
	return nil
}

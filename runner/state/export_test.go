package state

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// SetImagePolicy sets when a commit rewrites a relation's image rather than append to its changes: once the
// changes since the image exceed minChanges rows and share of its records, whoever wrote the image (tests
// use small values to exercise both paths on small states).
func (s *PgStore) SetImagePolicy(share float64, minChanges int64) {
	s.imageShare, s.imageMin, s.runImageShare = share, minChanges, share
}

// SetRunImageShare sets the share of an image's records that the changes since it may reach before a commit
// rewrites it, when this store wrote the image since its Open (defaultRunImageShare).
func (s *PgStore) SetRunImageShare(share float64) { s.runImageShare = share }

// ImageOf reads the serial of a relation's image and the change rows committed since it (ok false: none).
func (s *PgStore) ImageOf(ctx context.Context, name string) (serial, changed int64, ok bool, err error) {
	c, err := s.data(ctx)
	if err != nil {
		return 0, 0, false, err
	}
	err = c.QueryRow(ctx, s.q(`SELECT serial, changed FROM {s}.images WHERE pipeline = $1 AND name = $2`), s.pipeline, name).Scan(&serial, &changed)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, false, nil
	}
	return serial, changed, err == nil, err
}

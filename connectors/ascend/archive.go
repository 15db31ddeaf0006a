package ascend

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jlaffaye/ftp"

	"github.com/possync/possync/connectors"
)

var (
	_ connectors.Committer = (*Source)(nil)
	_ connectors.Committer = (*PromotionsSource)(nil)
)

// Committed moves the uploads the committed run superseded into archive_dir (nothing without it): per
// location read, the full and inv uploads older than the full upload the checkpoint records, and the promo
// uploads older than it except the newest of them, which ascend_promotions may still be reading. The current
// full upload and every upload newer than it stay: each run reads them again.
func (s *Source) Committed(ctx context.Context, checkpoint []byte) error {
	return archiveSuperseded(ctx, s.cfg, checkpoint, supersededInventory)
}

// Committed moves the promo uploads older than the one the committed checkpoint records, per location read,
// into archive_dir (nothing without it). The current promo upload and newer ones stay.
func (s *PromotionsSource) Committed(ctx context.Context, checkpoint []byte) error {
	return archiveSuperseded(ctx, s.cfg, checkpoint, supersededPromotions)
}

// supersededFunc picks, among the listed uploads of one location (sorted oldest first), those a run that
// applied base no longer needs.
type supersededFunc func(base upload, listed []upload) []upload

// supersededInventory picks the full and inv uploads older than base (a full upload) and the promo uploads
// older than base but the newest of them.
func supersededInventory(base upload, listed []upload) []upload {
	var out, promos []upload
	for _, u := range listed {
		switch {
		case !before(u, base):
		case u.Kind == kindPromo:
			promos = append(promos, u)
		default:
			out = append(out, u)
		}
	}
	if len(promos) > 1 {
		out = append(out, promos[:len(promos)-1]...)
	}
	return out
}

// supersededPromotions picks the promo uploads older than base (a promo upload).
func supersededPromotions(base upload, listed []upload) []upload {
	var out []upload
	for _, u := range listed {
		if u.Kind == kindPromo && before(u, base) {
			out = append(out, u)
		}
	}
	return out
}

// archiveSuperseded moves the uploads superseded picks, for every location read that the checkpoint records,
// from dir into archive_dir. It lists dir once and touches archive_dir only when something moves; it tries
// every file and reports how many moves failed, with the first failure.
func archiveSuperseded(ctx context.Context, cfg *config, checkpoint []byte, superseded supersededFunc) error {
	if cfg.ArchiveDir == "" {
		return nil
	}
	cp, err := decodeCheckpoint(checkpoint)
	if err != nil {
		return err
	}
	bases := map[string]upload{}
	for _, loc := range cfg.readLocations() {
		if applied := cp.Locations[loc.ShortName]; len(applied) > 0 {
			if base, ok := parseUploadName(applied[0].Name); ok && base.ShortName == loc.ShortName {
				bases[loc.ShortName] = base
			}
		}
	}
	if len(bases) == 0 {
		return nil
	}
	cl, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer cl.close()
	entries, err := cl.list(ctx)
	if err != nil {
		return err
	}
	var moves []upload
	for _, loc := range cfg.readLocations() {
		if base, ok := bases[loc.ShortName]; ok {
			moves = append(moves, superseded(base, uploadsOf(entries, loc.ShortName))...)
		}
	}
	if len(moves) == 0 {
		return nil
	}
	return moveAll(ctx, cl, cfg, moves)
}

// uploadsOf returns the files of a listing named as uploads of the location, oldest first.
func uploadsOf(entries []*ftp.Entry, shortName string) []upload {
	var out []upload
	for _, e := range entries {
		if e.Type != ftp.EntryTypeFile {
			continue
		}
		if u, ok := parseUploadName(e.Name); ok && u.ShortName == shortName {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return before(out[i], out[j]) })
	return out
}

// moveAll creates archive_dir if needed and moves the uploads into it, under their own name unless the
// archive holds it already.
func moveAll(ctx context.Context, cl *client, cfg *config, moves []upload) error {
	if err := cl.makeDirAll(ctx, cfg.ArchiveDir); err != nil {
		return fmt.Errorf("archive_dir: %w", err)
	}
	entries, err := cl.listDir(ctx, cfg.ArchiveDir)
	if err != nil {
		return fmt.Errorf("archive_dir: %w", err)
	}
	taken := make(map[string]bool, len(entries))
	for _, e := range entries {
		taken[e.Name] = true
	}
	var first error
	moved := 0
	for _, u := range moves {
		name := freeName(u.Name, taken)
		if err := cl.rename(ctx, path.Join(cfg.Dir, u.Name), path.Join(cfg.ArchiveDir, name)); err != nil {
			if first == nil {
				first = err
			}
			if ctx.Err() != nil {
				break
			}
			continue
		}
		taken[name] = true
		moved++
	}
	if first != nil {
		return fmt.Errorf("archive_dir %s: %d of %d superseded upload(s) not moved; first: %w", cfg.ArchiveDir,
			len(moves)-moved, len(moves), first)
	}
	return nil
}

// freeName returns name, or name numbered before its extension (a.1.txt, a.2.txt, ...), whichever is not
// taken.
func freeName(name string, taken map[string]bool) string {
	if !taken[name] {
		return name
	}
	ext := path.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 1; ; i++ {
		if n := stem + "." + strconv.Itoa(i) + ext; !taken[n] {
			return n
		}
	}
}

package ascend

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/possync/possync/connectors"
)

// begin is the common start of a read: it decodes the checkpoint (ignored on a full refresh), connects,
// lists the folder twice and selects each read location's uploads. It returns the logged-in client (the
// caller closes it), the selections and a Snapshot result keyed by key carrying the survey's rejects and
// notes so far.
func begin(ctx context.Context, cfg *config, req connectors.ReadRequest, key []string, baseKind, deltaKind string) (*client, []selection, connectors.ReadResult, error) {
	var res connectors.ReadResult
	cp, err := decodeCheckpoint(req.Checkpoint)
	if err != nil {
		return nil, nil, res, err
	}
	if req.FullRefresh {
		cp, _ = decodeCheckpoint(nil)
	}
	cl, err := connect(ctx, cfg)
	if err != nil {
		return nil, nil, res, err
	}
	kinds := map[string]bool{baseKind: true}
	if deltaKind != "" {
		kinds[deltaKind] = true
	}
	sv, err := listTwice(ctx, cl, cfg, kinds)
	if err != nil {
		cl.close()
		return nil, nil, res, err
	}
	sels, notes, err := selectUploads(sv, cfg, cp, baseKind, deltaKind)
	if err != nil {
		cl.close()
		return nil, nil, res, err
	}
	res = connectors.ReadResult{Mode: connectors.Snapshot, Key: key, Rejects: sv.rejects, Notes: append(sv.notes, notes...)}
	return cl, sels, res, nil
}

// listTwice lists the upload folder, waits settle, lists it again and surveys what it saw.
func listTwice(ctx context.Context, cl *client, cfg *config, kinds map[string]bool) (*survey, error) {
	first, err := cl.list(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.Settle > 0 {
		t := time.NewTimer(cfg.Settle)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	second, err := cl.list(ctx)
	if err != nil {
		return nil, err
	}
	return surveyFolder(first, second, cfg, kinds, cfg.Settle), nil
}

// fetchUpload downloads an upload whole; it fails when the file changed since it was listed.
func fetchUpload(ctx context.Context, cl *client, u upload) ([]byte, error) {
	data, err := cl.fetch(ctx, u.Name)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != u.Size {
		return nil, fmt.Errorf("%s changed while it was downloaded (listed %d bytes, got %d): it is being rewritten; try again",
			u.Name, u.Size, len(data))
	}
	return data, nil
}

// checkpointOf returns the checkpoint recording the uploads of the selections.
func checkpointOf(sels []selection) []byte {
	cp := &checkpoint{Version: checkpointVersion, Locations: map[string][]appliedUpload{}}
	for _, sel := range sels {
		for _, u := range sel.uploads() {
			cp.Locations[sel.loc.ShortName] = append(cp.Locations[sel.loc.ShortName], applied(u))
		}
	}
	return cp.encode()
}

// maxListedRejects caps how many rejects an error lists.
const maxListedRejects = 20

// checkRejects fails when more than maxPercent of a file's rows were rejected, listing the first rejects.
func checkRejects(name string, rows int, maxPercent float64, rejects []connectors.Reject) error {
	rejected := len(rejects)
	if rows == 0 || float64(rejected)*100 <= maxPercent*float64(rows) {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d of %d row(s) rejected (%.1f%%, more than max_reject_percent %g); nothing was planned:",
		name, rejected, rows, float64(rejected)*100/float64(rows), maxPercent)
	for i, r := range rejects {
		if i == maxListedRejects {
			fmt.Fprintf(&b, "\n  ... and %d more", len(rejects)-i)
			break
		}
		fmt.Fprintf(&b, "\n  %s: %s", r.Where, r.Reason)
	}
	return fmt.Errorf("%s", b.String())
}

// Package ascend is the source of Ascend POS inventory uploads: the files an Ascend POS uploads over FTP for
// a bike shop's website (Workstand's "POS FTP"). See the sourceSpec description and §7.1 of the domain
// reference for the file format; ftptest is an in-process FTP server for tests and demos.
package ascend

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/spec"
)

// Source reads the inventory uploads of the locations a pipeline reads. It is safe for concurrent use.
type Source struct {
	cfg  *config
	zone *time.Location
}

var (
	_ connectors.Source           = (*Source)(nil)
	_ connectors.ConnectionTester = (*Source)(nil)
)

// NewSource builds an ascend source from its configuration. It checks the configuration (user, TLS options,
// locations and mode) without touching the network.
func NewSource(cfg spec.Config, env connectors.Env) (*Source, error) {
	c, err := decodeConfig(cfg, env)
	if err != nil {
		return nil, err
	}
	zone, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return nil, fmt.Errorf("timezone: %w", err)
	}
	return &Source{cfg: c, zone: zone}, nil
}

// Schema returns the inventory record schema (fixed).
func (s *Source) Schema() *arrow.Schema { return inventorySchema }

// Check connects, logs in and lists the upload folder.
func (s *Source) Check(ctx context.Context) error {
	cl, err := connect(ctx, s.cfg)
	if err != nil {
		return err
	}
	defer cl.close()
	_, err = cl.list(ctx)
	return err
}

// Read connects to the server, picks each location's uploads (see sourceSpec), downloads and parses them and
// returns the combined records as a Snapshot keyed by sku. Everything is read before Read returns; an error
// (connection, a file that cannot be used, rejects over max_reject_percent, a full upload older than the last
// applied one) fails the read and the run plans nothing.
func (s *Source) Read(ctx context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
	cl, sels, res, err := begin(ctx, s.cfg, req, []string{"sku"}, kindFull, kindInv)
	if err != nil {
		return nil, err
	}
	defer cl.close()
	prev, err := decodeCheckpoint(req.Checkpoint) // the last applied run's, even on a full refresh
	if err != nil {
		return nil, err
	}
	var states []*state
	var deltas [][]*inventory
	fulls, suspect := map[string]*inventory{}, map[string]bool{}
	for _, sel := range sels {
		if sel.base.Name == "" {
			continue
		}
		invs, err := s.fetchAll(ctx, cl, sel.uploads(), &res)
		if err != nil {
			return nil, err
		}
		fulls[sel.loc.ShortName] = invs[0]
		if holds := suspectFull(prev.Locations[sel.loc.ShortName], invs[0], s.cfg.MinRowsPercent); len(holds) > 0 {
			res.Holds = append(res.Holds, holds...)
			suspect[sel.loc.ShortName] = true
		}
		states = append(states, newState(sel.loc, invs[0]))
		deltas = append(deltas, invs[1:])
	}
	known := func(sku string) bool {
		for _, st := range states {
			if _, ok := st.items[sku]; ok {
				return true
			}
		}
		return false
	}
	for i, st := range states {
		for _, inv := range deltas[i] {
			if note := st.applyInv(inv, known); note != "" {
				res.Notes = append(res.Notes, note)
			}
		}
	}
	records := combine(states)
	if note := flagAmbiguous(records, states); note != "" {
		res.Notes = append(res.Notes, note)
	}
	setEligible(records, req.Now, s.zone)
	res.Checkpoint = withFacts(checkpointOf(sels), fulls, prev, suspect, !req.AllowMassChange)
	return newReader(inventorySchema, req.Alloc, len(records), func(b *array.RecordBuilder, i int) {
		appendRecord(b, records[i])
	}, res), nil
}

// fetchAll downloads and parses uploads, collecting their rejects and encoding notes in res.
func (s *Source) fetchAll(ctx context.Context, cl *client, uploads []upload, res *connectors.ReadResult) ([]*inventory, error) {
	out := make([]*inventory, 0, len(uploads))
	for _, u := range uploads {
		inv, err := s.fetchInventory(ctx, cl, u)
		if err != nil {
			return nil, err
		}
		res.Rejects = append(res.Rejects, inv.rejects...)
		res.Holds = append(res.Holds, inv.holds...)
		if inv.encoding != encUTF8 {
			res.Notes = append(res.Notes, fmt.Sprintf("%s: read as %s", u.Name, inv.encoding))
		}
		out = append(out, inv)
	}
	return out, nil
}

// fetchInventory downloads and parses one upload, failing when its rejects pass max_reject_percent.
func (s *Source) fetchInventory(ctx context.Context, cl *client, u upload) (*inventory, error) {
	data, err := fetchUpload(ctx, cl, u)
	if err != nil {
		return nil, err
	}
	inv, err := parseInventory(u, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u.Name, err)
	}
	if err := checkRejects(u.Name, inv.rows, s.cfg.MaxRejectPercent, inv.rejects); err != nil {
		return nil, err
	}
	return inv, nil
}

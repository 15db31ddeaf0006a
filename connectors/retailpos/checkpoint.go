package retailpos

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// checkpoint is what the source keeps between runs (ReadResult.Checkpoint, JSON).
type checkpoint struct {
	// ProductsVersion and InventoryVersion are the highest versions read from /products and /inventory: the
	// next incremental read asks for after=<them>.
	ProductsVersion  int64 `json:"products_version"`
	InventoryVersion int64 `json:"inventory_version"`
	// FullReadAt is the evaluation time of the last full read, for the periodic full refresh.
	FullReadAt time.Time `json:"full_read_at"`
	// Outlets are the IDs of the outlets whose inventory was summed, sorted: another selection changes every
	// quantity, so it forces a full read.
	Outlets []string `json:"outlets"`
	// Products and Inventory count the products (deleted ones included) and inventory records of the last
	// full read: they price a full read against the lookups an incremental one would need.
	Products  int `json:"products"`
	Inventory int `json:"inventory"`
}

// parseCheckpoint decodes a checkpoint; nil input gives nil.
func parseCheckpoint(b []byte) (*checkpoint, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var cp checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, fmt.Errorf("unreadable checkpoint: %w", err)
	}
	return &cp, nil
}

func (cp *checkpoint) encode() []byte {
	b, _ := json.Marshal(cp) // plain fields always marshal
	return b
}

// fullReason says why the read must be full, or "" when it may be incremental.
func fullReason(cp *checkpoint, cpErr error, fullRefresh bool, outlets []string, now time.Time, every time.Duration) string {
	switch {
	case fullRefresh:
		return "a full refresh was requested"
	case cpErr != nil:
		return cpErr.Error()
	case cp == nil:
		return "first read"
	case !slices.Equal(cp.Outlets, outlets):
		return "the selected outlets changed"
	case every > 0 && now.Sub(cp.FullReadAt) >= every:
		return fmt.Sprintf("the periodic full refresh is due (every %s; last full read %s)", every,
			cp.FullReadAt.UTC().Format(time.RFC3339))
	}
	return ""
}

// fullReadCost is the number of requests a full read costs at page size n (outlets, every page of products
// and of inventory, each ending with an empty page).
func (cp *checkpoint) fullReadCost(n int) int {
	return 1 + (cp.Products+n-1)/n + 1 + (cp.Inventory+n-1)/n + 1
}

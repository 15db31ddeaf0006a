package orderstatus

import (
	"strings"
	"testing"

	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

// An unknown POS status in statuses is refused with the three it may be, instead of being silently ignored.
func TestUnknownPOSStatusIsRefused(t *testing.T) {
	_, err := New(spec.Config{Values: map[string]any{"statuses": map[string]any{"Shipped": "Shipping", "Completed": "Dealer Delivery"}}},
		transforms.Env{InputName: "sales"})
	if err == nil || !strings.Contains(err.Error(), `unknown POS status "Shipped"`) {
		t.Fatalf("err %v, want the unknown POS status named", err)
	}
	s, err := New(spec.Config{Values: map[string]any{"statuses": map[string]any{"Completed": "Dealer Delivery", "Ready for Pickup": ""}}},
		transforms.Env{InputName: "sales"})
	if err != nil {
		t.Fatal(err)
	}
	st := s.(*Step).statuses
	if st[POSCompleted] != "Dealer Delivery" || st[POSReady] != "" || st[POSRejected] != "Canceled" {
		t.Errorf("statuses %v: want the merchant's Completed, Ready for Pickup off, the default Rejected", st)
	}
}

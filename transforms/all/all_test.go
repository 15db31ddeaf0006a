package all

import (
	"reflect"
	"testing"

	"github.com/possync/possync/transforms"
)

func TestAllRegistered(t *testing.T) {
	if got, want := transforms.Registry.Names(), []string{"filter", "map", "match", "order_match", "order_status", "promotions", "reserve", "sql"}; !reflect.DeepEqual(got, want) {
		t.Errorf("registered transforms = %v, want %v", got, want)
	}
}

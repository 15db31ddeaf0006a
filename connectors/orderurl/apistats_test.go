package orderurl

import (
	"testing"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/apistats"
	"github.com/possync/possync/connectors/orderurl/orderurltest"
)

// TestReadCountsAPICalls: a read that meets two 503s counts three requests and two retries into the
// Counters of its context (the run report's per-connector API counts).
func TestReadCountsAPICalls(t *testing.T) {
	site := orderurltest.New(orderurltest.Options{})
	defer site.Close()
	site.Add(orderurltest.Generate(2, 1, day, "")...)
	site.Inject(orderurltest.Fault{Kind: orderurltest.Unavailable, Times: 2})
	s, _ := newTestSource(t, site, nil)
	var stats apistats.Counters
	rd, err := s.Read(apistats.With(t.Context(), &stats), connectors.ReadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	rd.Close()
	if got, want := stats.Read(), (apistats.Snapshot{Requests: int64(len(site.CallsOf("Orders"))), Retries: 2}); got != want || want.Requests != 3 {
		t.Fatalf("counted %+v, want %+v (3 requests)", got, want)
	}
}

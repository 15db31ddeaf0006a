package shopify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/spec"
)

// TestErrorBodyCutAfterTheTokenIsMasked: a refusal whose text (not JSON) echoes the token where the message
// is cut (200 bytes) leaves none of it: the token is masked before the cut, which could otherwise leave a
// prefix of it too short to recognise.
func TestErrorBodyCutAfterTheTokenIsMasked(t *testing.T) {
	const tok = "shpat_Zq7kTok9931"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(strings.Repeat("x", 193) + r.Header.Get("X-Shopify-Access-Token")))
	}))
	defer srv.Close()
	base, _ := url.Parse(srv.URL)
	c := newClient(base, "2025-01", spec.NewSecret(tok), 5*time.Second)
	err := c.do(context.Background(), "orders", "shopify orders page 1", "{ shop { name } }", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "xxxxx") || strings.Contains(err.Error(), "shpat_") {
		t.Fatalf("err %v: want the 403's text with no part of the token", err)
	}
}

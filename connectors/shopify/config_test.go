package shopify

import (
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/spec"
)

// Bad settings are refused before any request, with the fix in the message and never the token.
func TestNewSourceSettings(t *testing.T) {
	const tok = "shpat_secret_value_1"
	cases := []struct {
		values map[string]any
		want   string
	}{
		{map[string]any{}, "set shop"},
		{map[string]any{"shop": "acme bikes"}, "myshopify handle"},
		{map[string]any{"base_url": "ftp://x"}, "http(s) URL"},
		{map[string]any{"shop": "acme", "token": spec.Secret{}}, "token is required"},
		{map[string]any{"shop": "acme", "page_size": int64(251)}, "between 1 and 250"},
		{map[string]any{"shop": "acme", "line_items": int64(0)}, "line_items must be between"},
		{map[string]any{"shop": "acme", "overlap": -time.Minute}, "overlap must not be negative"},
		{map[string]any{"shop": "acme", "api_version": "2025-02"}, "api_version"},
		{map[string]any{"shop": "acme", "since": "yesterday"}, "RFC 3339"},
		{map[string]any{"shop": "acme", "mark_tag": "a,b"}, "without a comma"},
		{map[string]any{"shop": "acme", "mark": "metafield", "metafield_namespace": "x"}, "at least 3"},
	}
	for _, c := range cases {
		values := map[string]any{"token": spec.NewSecret(tok)}
		for k, v := range c.values {
			values[k] = v
		}
		_, err := NewSource(spec.Config{Values: values}, connectors.Env{})
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), tok) {
			t.Errorf("%v: %v, want an error containing %q", c.values, err, c.want)
		}
	}
	s, err := NewSource(spec.Config{Values: map[string]any{"shop": "acme-bikes.myshopify.com", "token": spec.NewSecret(tok)}}, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if s.api.endpoint != "https://acme-bikes.myshopify.com/admin/api/2025-10/graphql.json" {
		t.Errorf("endpoint %s", s.api.endpoint)
	}
}

package retailpos

import (
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/spec"
)

func TestRegistered(t *testing.T) {
	c, ctor, ok := connectors.Sources.Lookup("retailpos")
	if !ok || ctor == nil {
		t.Fatal("retailpos is not registered")
	}
	if f, _ := c.Field("token"); !f.Secret || !f.Required {
		t.Error("token must be a required secret")
	}
	s, err := ctor(spec.Config{Values: map[string]any{"domain_prefix": "acme", "token": spec.NewSecret("t0ken")}}, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Schema().NumFields() != 24 {
		t.Errorf("schema has %d fields", s.Schema().NumFields())
	}
}

func TestConfig(t *testing.T) {
	tok := spec.NewSecret("tok-SECRET-77")
	cases := []struct {
		name   string
		values map[string]any
		base   string // the API root, when valid
		err    string
	}{
		{name: "domain prefix", values: map[string]any{"domain_prefix": "acme-outdoor"},
			base: "https://acme-outdoor.retail.lightspeed.app/api/2.0"},
		{name: "base_url overrides", values: map[string]any{"domain_prefix": "acme", "base_url": "http://127.0.0.1:9/api/2.0"},
			base: "http://127.0.0.1:9/api/2.0"},
		{name: "neither", values: map[string]any{}, err: "set domain_prefix"},
		{name: "full host as prefix", values: map[string]any{"domain_prefix": "acme.retail.lightspeed.app"},
			err: "must be just the store's prefix"},
		{name: "bad base_url", values: map[string]any{"base_url": "ftp://x"}, err: "must be an http(s) URL"},
		{name: "no token", values: map[string]any{"domain_prefix": "acme", "token": nil}, err: "token is required"},
		{name: "page size", values: map[string]any{"domain_prefix": "acme", "page_size": int64(0)}, err: "page_size must be at least 1"},
		{name: "timeout", values: map[string]any{"domain_prefix": "acme", "timeout": time.Duration(0)}, err: "timeout must be positive"},
		{name: "refresh period", values: map[string]any{"domain_prefix": "acme", "full_refresh_every": -time.Hour},
			err: "full_refresh_every must not be negative"},
		{name: "rate", values: map[string]any{"domain_prefix": "acme", "requests_per_minute": int64(-1)},
			err: "requests_per_minute must not be negative"},
		{name: "empty outlet", values: map[string]any{"domain_prefix": "acme", "outlets": []any{"Main", " "}},
			err: "outlets: entry 2 is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			values := map[string]any{"token": tok}
			for k, v := range c.values {
				values[k] = v
			}
			s, err := NewSource(spec.Config{Values: values}, connectors.Env{})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), tok.Reveal()) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.api.c.Base.String(); got != c.base {
				t.Errorf("base %s, want %s", got, c.base)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	s, err := NewSource(spec.Config{Values: map[string]any{"domain_prefix": "acme", "token": spec.NewSecret("t0ken")}}, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if s.api.pageSize != 1000 || s.api.c.HTTP.Timeout != 30*time.Second || s.fullRefreshEvery != 24*time.Hour || s.api.c.Limiter == nil {
		t.Errorf("defaults: page size %d, timeout %s, full refresh every %s, limiter %v", s.api.pageSize, s.api.c.HTTP.Timeout,
			s.fullRefreshEvery, s.api.c.Limiter)
	}
	// 60 requests per minute: after the burst of 10, 50 more requests take 50 s.
	if d := s.api.c.Limiter.Estimate(60); d != 50*time.Second {
		t.Errorf("limiter estimate for 60 requests: %s, want 50s", d)
	}
	// The declared defaults match the ones the constructor applies.
	for name, want := range map[string]any{"page_size": int64(1000), "timeout": 30 * time.Second,
		"full_refresh_every": 24 * time.Hour, "requests_per_minute": int64(60)} {
		f, _ := sourceSpec.Field(name)
		if got := f.DefaultValue(); got != want {
			t.Errorf("declared default of %s: %v, want %v", name, got, want)
		}
	}
}

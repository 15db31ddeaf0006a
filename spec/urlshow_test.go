package spec

import (
	"net/url"
	"slices"
	"testing"
)

// TestShownURL: a URL in a message keeps its scheme, user, host and path, and loses what may hold a key.
func TestShownURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://shop.example/export/orders?method=Orders&URLkey=k3y-Value", "https://shop.example/export/orders?…"},
		{"http://ops:pw-Secret1@gw:9091/metrics?token=t0k#frag", "http://ops@gw:9091/metrics?…#…"},
		{"www.example.com/orders?URLkey=k3y-Value", "www.example.com/orders?…"},
		{"localhost:8080/x?URLkey=k3y-Value", "localhost:…"},
		{"https://api.example.com/v3", "https://api.example.com/v3"},
	} {
		u, err := url.Parse(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := ShownURL(u); got != c.want {
			t.Errorf("ShownURL(%s) = %s, want %s", c.in, got, c.want)
		}
	}
	u, _ := url.Parse("http://ops:pw-Secret1@gw/m?token=t0k-Value&x=1")
	if got := URLSecrets(u); !slices.Contains(got, "pw-Secret1") || !slices.Contains(got, "t0k-Value") {
		t.Errorf("URLSecrets = %q, want the password and the query's values", got)
	}
}

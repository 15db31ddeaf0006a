package pipelines

import (
	"strings"
	"testing"
)

// TestURLFieldNeverEchoesTheQuery: a URL field that is refused is quoted without its query (an order
// export's URL key travels there) or its password.
func TestURLFieldNeverEchoesTheQuery(t *testing.T) {
	const key = "Zq7kUrlKey9931"
	for _, c := range []struct{ url, want string }{
		{"www.example-bikes.com/export/orders?method=Orders&merchant=1234&URLkey=" + key,
			"`www.example-bikes.com/export/orders?…` is not an absolute http(s) URL"},
		{"ftp://u:" + key + "@files.example/x?URLkey=" + key + "#" + key, "`ftp://u@files.example/x?…#…`: the scheme ftp"},
		{"api.example:" + key + "@h/x", "`api.example:…`"},
	} {
		_, diags := parse(t, head+"source: {type: http, url: \"${API}\"}\n"+snk, map[string]string{"API": c.url})
		if msgs := diags.Error(); !strings.Contains(msgs, c.want) || strings.Contains(msgs, key) {
			t.Errorf("url %s: want %q and no key, got: %s", c.url, c.want, msgs)
		}
	}
}

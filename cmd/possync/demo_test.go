package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/possync/possync/examples"
)

// TestDemoServers: the demo's header names exactly the servers each example starts, each with its address
// (the bikeshop example once showed "Retail POS emulator )": it has the order export but no Retail POS).
func TestDemoServers(t *testing.T) {
	want := map[string][]string{
		"retail-ecom":  {"Retail POS emulator", "eCom emulator"},
		"bikeshop":     {"Ascend FTP server", "order export emulator", "eCom emulator"},
		"orders":       {"order export emulator", "Retail POS emulator"},
		"acme-outdoor": nil,
	}
	for _, name := range examples.Names() {
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("example %s is not in the test: add the servers it starts", name)
			}
			env, err := examples.Start(name)
			if err != nil {
				t.Fatal(err)
			}
			defer env.Close()
			var kinds []string
			for _, s := range demoServers(env) {
				i := strings.LastIndexByte(s, ' ')
				if addr := s[i+1:]; i < 0 || addr == "" || !strings.Contains(addr, "127.0.0.1") {
					t.Errorf("server %q has no loopback address", s)
				}
				kinds = append(kinds, s[:max(i, 0)])
			}
			if !reflect.DeepEqual(kinds, w) {
				t.Errorf("servers %q, want %q", kinds, w)
			}
		})
	}
}

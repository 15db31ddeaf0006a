package spec

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

type goodItem struct {
	Name  string  `spec:"name"`
	Price float64 `spec:"price"`
}

type goodConfig struct {
	Host     string            `spec:"host"`
	Port     int               `spec:"port"`
	Password Secret            `spec:"password"`
	Timeout  time.Duration     `spec:"timeout"`
	Items    []goodItem        `spec:"items"`
	Labels   map[string]string `spec:"labels"`
	Untagged string
}

var goodFields = []Field{
	{Name: "host", Type: TypeString, Required: true},
	{Name: "port", Type: TypeInt, Default: 21},
	{Name: "password", Type: TypeString, Secret: true},
	{Name: "timeout", Type: TypeDuration, Default: "30s"},
	{Name: "items", Type: TypeList, Items: &Field{Type: TypeObject, Fields: []Field{
		{Name: "name", Type: TypeString}, {Name: "price", Type: TypeFloat}}}},
	{Name: "labels", Type: TypeMap, Items: &Field{Type: TypeString}},
}

// connSettings and misspeltConn are groups of settings embedded in config structs (unexported, as the
// connectors' are).
type connSettings struct {
	Host     string `spec:"host"`
	Password Secret `spec:"password,shared"`
}

type misspeltConn struct {
	Host string `spec:"hots"`
}

// TestDecodeEmbedded decodes the settings of an embedded untagged struct from the same level as the
// enclosing struct's, and leaves its fields the values have not alone.
func TestDecodeEmbedded(t *testing.T) {
	var dst struct {
		connSettings
		Port int `spec:"port"`
	}
	dst.Host = "default"
	cfg := Config{Values: map[string]any{"password": NewSecret("pw"), "port": int64(21)}}
	if err := cfg.Decode(&dst); err != nil {
		t.Fatal(err)
	}
	if dst.Host != "default" || dst.Password.Reveal() != "pw" || dst.Port != 21 {
		t.Fatalf("decoded host %q, password %q, port %d; want default, pw, 21", dst.Host, dst.Password.Reveal(), dst.Port)
	}
	cfg = Config{Values: map[string]any{"host": "ftp.example.com"}}
	if err := cfg.Decode(&dst); err != nil {
		t.Fatal(err)
	}
	if dst.Host != "ftp.example.com" {
		t.Fatalf("host = %q, want ftp.example.com", dst.Host)
	}
	cfg = Config{Values: map[string]any{"password": true}}
	if err := cfg.Decode(&dst); err == nil || !strings.Contains(err.Error(), "/password") {
		t.Fatalf("a bad embedded value: err = %v, want one naming /password", err)
	}
}

// TestRegisterMatchesConfigStruct registers deliberately broken components: each must be refused (MustRegister
// panics) with a message naming the component and the field, while the matching declaration registers.
func TestRegisterMatchesConfigStruct(t *testing.T) {
	type misspelt struct {
		Host string `spec:"hots"`
		Port int    `spec:"port"`
	}
	type extra struct {
		Host  string `spec:"host"`
		Port  int    `spec:"port"`
		Proxy string `spec:"proxy"`
	}
	type badItem struct {
		Name  string  `spec:"name"`
		Price float64 `spec:"prize"`
	}
	type nested struct {
		Items []badItem `spec:"items"`
	}
	type wrongType struct {
		Host string `spec:"host"`
		Port bool   `spec:"port"`
	}
	type embedded struct {
		connSettings
		Port int `spec:"port"`
	}
	type embeddedMisspelt struct {
		misspeltConn
		Port int `spec:"port"`
	}
	type embeddedDup struct {
		connSettings
		Host string `spec:"host"`
		Port int    `spec:"port"`
	}
	hostPort := []Field{{Name: "host", Type: TypeString}, {Name: "port", Type: TypeInt}}
	cases := []struct {
		name   string
		fields []Field
		config any
		want   []string // substrings of the panic message; none: registers
	}{
		{"matching", goodFields, goodConfig{}, nil},
		{"pointer config", goodFields, &goodConfig{}, nil},
		{"no fields, no config", nil, nil, nil},
		{"misspelled tag", hostPort, misspelt{}, []string{`"broken"`, `"host"`, `spec:"hots"`}},
		{"undeclared tag", hostPort, extra{}, []string{`"broken"`, `Proxy`, `"proxy"`, "not a declared field"}},
		{"nested item tag", goodFields[4:5], nested{}, []string{`"broken"`, `"items[].price"`}},
		{"wrong Go type", hostPort, wrongType{}, []string{`"broken"`, `"port"`, "bool"}},
		{"embedded struct", hostPort, embedded{}, nil},
		{"embedded misspelled tag", hostPort, embeddedMisspelt{}, []string{`"broken"`, `"host"`, `spec:"hots"`}},
		{"embedded duplicate tag", hostPort, embeddedDup{}, []string{`"broken"`, "tags two fields", `"host"`}},
		{"fields without config", hostPort, nil, []string{`"broken"`, "no Config"}},
		{"config not a struct", hostPort, "x", []string{`"broken"`, "want a struct"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewRegistry[int](KindSource)
			comp := Component{Kind: KindSource, Name: "broken", Fields: c.fields, Config: c.config}
			msg := func() (msg string) {
				defer func() {
					if p := recover(); p != nil {
						msg = fmt.Sprint(p)
					}
				}()
				r.MustRegister(comp, 1)
				return ""
			}()
			if c.want == nil {
				if msg != "" {
					t.Fatalf("refused a matching declaration: %s", msg)
				}
				if _, _, ok := r.Lookup("broken"); !ok {
					t.Fatal("not registered")
				}
				return
			}
			if msg == "" {
				t.Fatal("registered a component whose config struct does not match its fields")
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("panic %q does not mention %s", msg, w)
				}
			}
		})
	}
}

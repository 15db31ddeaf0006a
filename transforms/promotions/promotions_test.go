package promotions

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

var la = mustZone("America/Los_Angeles")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func build(t *testing.T, values map[string]any, env transforms.Env) *Step {
	t.Helper()
	_, ctor, ok := transforms.Registry.Lookup("promotions")
	if !ok {
		t.Fatal("promotions is not registered")
	}
	tr, err := ctor(spec.Config{Pos: spec.Pos{Line: 9, Col: 5, Path: "/transforms/1"}, Values: values}, env)
	if err != nil {
		t.Fatal(err)
	}
	return tr.(*Step)
}

func TestDeclaration(t *testing.T) {
	c, _, ok := transforms.Registry.Lookup("promotions")
	if !ok {
		t.Fatal("promotions is not registered")
	}
	if f, ok := c.Field("promotions"); !ok || !f.Required {
		t.Errorf("field promotions = %+v, want required", f)
	}
	// The items default to the step's input.
	if f, ok := c.Field("items"); !ok || f.Required {
		t.Errorf("field items = %+v, want optional", f)
	}
	if s := build(t, map[string]any{"promotions": "promos"}, transforms.Env{Now: time.Now(), InputName: "catalog"}); !strings.Contains(s.Query().Text, `FROM "catalog"`) {
		t.Errorf("without items, the query does not read the step's input: %s", s.Query().Text)
	}
	if f, _ := c.Field("horizon"); f.DefaultValue() != 7*24*time.Hour {
		t.Errorf("horizon default = %v, want 7 days", f.DefaultValue())
	}
	cols, _ := c.Field("columns")
	want := map[string]string{"id": "PromotionId", "name": "PromotionName", "created_at": "CreatedAt",
		"start": "StartDate", "end": "EndDate", "ecommerce": "Ecommerce", "sale_price": "SalePrice"}
	for _, f := range cols.Fields {
		if f.Default != want[f.Name] {
			t.Errorf("columns.%s default = %v, want %q (Ascend §7.1)", f.Name, f.Default, want[f.Name])
		}
	}
}

func TestStepKinds(t *testing.T) {
	s := build(t, map[string]any{"items": "products", "promotions": "promos"}, transforms.Env{Now: time.Now()})
	var tr transforms.Transform = s
	if _, ok := tr.(transforms.Batch); ok {
		t.Error("a promotions step must not be a Batch transform")
	}
	if tr.Schema() != nil {
		t.Error("Schema() must be nil: the runner finds it from the query")
	}
	if got := s.Annotations(); !reflect.DeepEqual(got, []string{"promotion_won", "promotion_lost"}) {
		t.Errorf("Annotations() = %v", got)
	}
	if q := s.Query(); q.Pos.Line != 9 || q.Pos.Path != "/transforms/1" || strings.Contains(q.Text, "\n") {
		t.Errorf("Query() at %+v, one line: %v; want the step's position and a single line", q.Pos, !strings.Contains(q.Text, "\n"))
	}
	for _, rel := range []string{`FROM "products"`, `FROM "promos"`} {
		if !strings.Contains(s.Query().Text, rel) || !strings.Contains(s.ReportSQL("priced"), rel) {
			t.Errorf("query and report must read %s", rel)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	base := func(extra map[string]any) map[string]any {
		v := map[string]any{"items": "products", "promotions": "promos"}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	tests := []struct {
		name   string
		values map[string]any
		path   string
	}{
		{"blank items", base(map[string]any{"items": " "}), "/transforms/1/items"},
		{"blank id column", base(map[string]any{"columns": map[string]any{"id": ""}}), "/transforms/1/columns/id"},
		{"price is the key", base(map[string]any{"price": "SKU"}), "/transforms/1/price"},
		{"price is an output", base(map[string]any{"price": "sale_price"}), "/transforms/1/price"},
		{"compare_to clashes", base(map[string]any{"compare_to": "Sale_Price"}), "/transforms/1/compare_to"},
		{"promoted clashes", base(map[string]any{"compare_to": "cmp", "promoted": "cmp"}), "/transforms/1/promoted"},
		{"zero horizon", base(map[string]any{"horizon": time.Duration(0)}), "/transforms/1/horizon"},
		{"horizon too long", base(map[string]any{"horizon": 400 * 24 * time.Hour}), "/transforms/1/horizon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(spec.Config{Pos: spec.Pos{Line: 9, Col: 5, Path: "/transforms/1"}, Values: tt.values}, transforms.Env{})
			var ds spec.Diagnostics
			if !errors.As(err, &ds) || len(ds) != 1 || ds[0].Code != "promotions_config" || ds[0].Path != tt.path || ds[0].Line != 9 {
				t.Fatalf("err = %v, want one promotions_config diagnostic at %s, line 9", err, tt.path)
			}
		})
	}
}

func TestLocalDate(t *testing.T) {
	tests := []struct {
		now  string
		loc  *time.Location
		want string
	}{
		{"2026-11-27T07:59:59Z", la, "2026-11-26"}, // 23:59:59 PST
		{"2026-11-27T08:00:00Z", la, "2026-11-27"}, // midnight PST
		{"2026-11-01T06:59:59Z", la, "2026-10-31"}, // 23:59:59 PDT, the night DST ends
		{"2026-11-01T07:00:00Z", la, "2026-11-01"}, // midnight PDT
		{"2026-11-27T07:59:59Z", time.UTC, "2026-11-27"},
	}
	for _, tt := range tests {
		now, _ := time.Parse(time.RFC3339, tt.now)
		if got := dateText(localDate(now, tt.loc)); got != tt.want {
			t.Errorf("localDate(%s, %s) = %s, want %s", tt.now, tt.loc, got, tt.want)
		}
		s := build(t, map[string]any{"items": "i", "promotions": "p"}, transforms.Env{Now: now, Location: tt.loc})
		if !strings.Contains(s.Query().Text, "DATE '"+tt.want+"' AS __day") {
			t.Errorf("at %s in %s the query does not resolve for %s", tt.now, tt.loc, tt.want)
		}
	}
}

func TestDays(t *testing.T) {
	type row struct {
		date, midnight string
		due            bool
	}
	tests := []struct {
		name, now string
		horizon   time.Duration
		want      []row
	}{
		{"across the end of DST", "2026-10-30T12:00:00-07:00", 72 * time.Hour, []row{
			{"2026-10-30", "2026-10-30T07:00:00Z", false},
			{"2026-10-31", "2026-10-31T07:00:00Z", true},
			{"2026-11-01", "2026-11-01T07:00:00Z", true}, // PDT midnight; the day has 25 hours
			{"2026-11-02", "2026-11-02T08:00:00Z", true}, // PST midnight
		}},
		{"now at midnight, horizon ending at midnight", "2026-11-27T00:00:00-08:00", 48 * time.Hour, []row{
			{"2026-11-27", "2026-11-27T08:00:00Z", false},
			{"2026-11-28", "2026-11-28T08:00:00Z", true},
			{"2026-11-29", "2026-11-29T08:00:00Z", true},
		}},
		{"short horizon before midnight", "2026-11-27T12:00:00-08:00", time.Hour, []row{
			{"2026-11-27", "2026-11-27T08:00:00Z", false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now, _ := time.Parse(time.RFC3339, tt.now)
			var got []row
			for _, d := range days(now, la, tt.horizon) {
				got = append(got, row{dateText(d.Date), d.Midnight.UTC().Format(time.RFC3339), d.Due})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("days = %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestReportDays(t *testing.T) {
	now, _ := time.Parse(time.RFC3339, "2026-10-31T12:00:00-07:00")
	s := build(t, map[string]any{"items": "i", "promotions": "p", "horizon": 48 * time.Hour}, transforms.Env{Now: now, Location: la})
	want := "VALUES (DATE '2026-10-31', TIMESTAMPTZ '2026-10-31 07:00:00+00', false), " +
		"(DATE '2026-11-01', TIMESTAMPTZ '2026-11-01 07:00:00+00', true), " +
		"(DATE '2026-11-02', TIMESTAMPTZ '2026-11-02 08:00:00+00', true))"
	if !strings.Contains(s.ReportSQL("out"), want) {
		t.Errorf("report days: want %s in\n%s", want, s.ReportSQL("out"))
	}
}

func TestQuoting(t *testing.T) {
	s := build(t, map[string]any{"items": `we"ird`, "promotions": "p", "key": "it's", "columns": map[string]any{
		"id": "Id", "name": "", "created_at": "C", "start": "S", "end": "E", "ecommerce": "", "sale_price": "P"}},
		transforms.Env{Now: time.Now()})
	q := s.Query().Text
	for _, want := range []string{`FROM "we""ird"`, `"it's"`, "CAST(NULL AS VARCHAR) AS __name", `FROM "p" AS p)`} {
		if !strings.Contains(q, want) {
			t.Errorf("query lacks %s", want)
		}
	}
	if !strings.Contains(s.ReportSQL("out"), `'it''s='`) {
		t.Error("the report's subject literal is not quoted")
	}
}

package retailpos

import (
	"math"
	"testing"
)

func TestUnitConversions(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	cases := []struct {
		name  string
		v     *float64
		unit  string
		per   map[string]float64
		want  float64 // NaN: null
		known bool
	}{
		{"grams", f(250), "G", kgPer, 0.25, true},
		{"kilograms", f(1.2), "KG", kgPer, 1.2, true},
		{"pounds", f(2), "LB", kgPer, 0.907185, true},
		{"ounces", f(16), "OZ", kgPer, 0.453592, true},
		{"carats", f(5), "CT", kgPer, 0.001, true},
		{"lower-case unit", f(500), "g", kgPer, 0.5, true},
		{"inches", f(10), "IN", cmPer, 25.4, true},
		{"centimetres", f(12.5), "CM", cmPer, 12.5, true},
		{"millimetres", f(355), "MM", cmPer, 35.5, true},
		{"yards", f(1), "YD", cmPer, 91.44, true},
		{"zero stays zero", f(0), "LB", kgPer, 0, true},
		{"null value", nil, "KG", kgPer, math.NaN(), true},
		{"null value, no unit", nil, "", cmPer, math.NaN(), true},
		{"value without unit", f(3), "", kgPer, math.NaN(), false},
		{"unknown unit", f(3), "STONE", kgPer, math.NaN(), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, known := convert(c.v, c.unit, c.per)
			if known != c.known || !(got == c.want || math.IsNaN(got) && math.IsNaN(c.want)) {
				t.Errorf("convert = %v, %v; want %v, %v", got, known, c.want, c.known)
			}
		})
	}
}

func TestUnknownUnitsAreNoted(t *testing.T) {
	var c converter
	w := 2.0
	for range 3 {
		r := c.row(&product{ID: "p", SKU: "s", Weight: &w, WeightUnit: "ST", Length: &w, Width: &w, DimensionsUnit: "FT"})
		if !math.IsNaN(r.weightKg) || !math.IsNaN(r.lengthCm) || !math.IsNaN(r.heightCm) {
			t.Fatalf("row %+v", r)
		}
	}
	want := map[string]int{`weight_unit "ST"`: 3, `dimensions_unit "FT"`: 3}
	if len(c.unknownUnits) != 2 || c.unknownUnits[`weight_unit "ST"`] != 3 || c.unknownUnits[`dimensions_unit "FT"`] != 3 {
		t.Errorf("unknown units %v, want %v", c.unknownUnits, want)
	}
}

func TestQuantitySumsNonNegativeLevels(t *testing.T) {
	cases := []struct {
		levels []float64
		want   int64
	}{
		{nil, 0},
		{[]float64{4, 6}, 10},
		{[]float64{3, -2}, 3},
		{[]float64{-5, -1}, 0},
		{[]float64{0.5, 0.5, 1.25}, 2},
	}
	for _, c := range cases {
		if got := quantity(c.levels); got != c.want {
			t.Errorf("quantity(%v) = %d, want %d", c.levels, got, c.want)
		}
	}
}

func TestFieldRendering(t *testing.T) {
	cases := []struct {
		name string
		got  string
		want string
	}{
		{"options sorted by name", optionsJSON([]variantOption{{"Size", "M"}, {"Color", "Black"}, {"Fabric", "Cotton"}}),
			`{"Color":"Black","Fabric":"Cotton","Size":"M"}`},
		{"no options", optionsJSON(nil), ""},
		{"image url, else original size", imagesJSON([]image{{URL: "https://a/1.jpg"}, {Sizes: map[string]string{"original": "https://a/2.jpg"}}, {}}),
			`["https://a/1.jpg","https://a/2.jpg"]`},
		{"no images", imagesJSON([]image{}), ""},
		{"category path", categoryName(&category{Name: "Tops", CategoryPath: []ref{{Name: "Apparel"}, {Name: "Tops"}}}), "Apparel > Tops"},
		{"category without path", categoryName(&category{Name: "General"}), "General"},
		{"empty category", categoryName(&category{}), ""},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestUPCIsTheFirstUPCOrEANCode(t *testing.T) {
	var c converter
	r := c.row(&product{ID: "p", SKU: "s", ProductCodes: []productCode{{"custom", "X1"}, {"ean", "4006381333931"}, {"UPC", "012345678905"}}})
	if r.upc != "4006381333931" {
		t.Errorf("upc %q", r.upc)
	}
}

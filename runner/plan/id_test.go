package plan

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestIDFormPiecesEqualKeyAndField: the typed pieces (Null, String, Bytes, Int, Float, Bool, after Name), which a
// planner reading typed columns uses to build a change's ID without boxing its values, give exactly the ID
// Key and Field give for the same values, integral floats (an int64's form) and NaN, infinities and 1e21 (a
// float's) included.
func TestIDFormPiecesEqualKeyAndField(t *testing.T) {
	type piece struct {
		v   any
		add func(*IDForm)
	}
	str := func(s string) piece { return piece{s, func(f *IDForm) { f.String(s) }} }
	byt := func(s string) piece { return piece{s, func(f *IDForm) { f.Bytes([]byte(s)) }} }
	num := func(i int64) piece { return piece{i, func(f *IDForm) { f.Int(i) }} }
	flt := func(x float64) piece { return piece{x, func(f *IDForm) { f.Float(x) }} }
	bln := func(b bool) piece { return piece{b, func(f *IDForm) { f.Bool(b) }} }
	null := piece{nil, func(f *IDForm) { f.Null() }}
	values := []piece{null, str(""), str("a\x00b:☃"), byt("2026-01-02T03:04:05.123456Z"), num(0), num(-9223372036854775808), num(math.MaxInt64),
		flt(10), flt(-0.0), flt(2.5), flt(1e20), flt(1e21), flt(-1e21), flt(math.NaN()), flt(math.Inf(1)), flt(1e-7),
		bln(true), bln(false)}
	planned := State{Lineage: "L", Serial: 9}
	seen := map[string]bool{}
	var boxed, typed IDForm
	for i, k := range values {
		after := values[(i+1)%len(values)]
		boxed.Begin(planned, "update")
		boxed.Key(k.v)
		boxed.Field("price", k.v, after.v)
		typed.Begin(planned, "update")
		k.add(&typed)
		typed.Name("price")
		k.add(&typed)
		after.add(&typed)
		want, got := boxed.ID(), typed.ID()
		if got != want {
			t.Errorf("key %#v, field %#v -> %#v: typed pieces give ID %s, Key and Field %s", k.v, k.v, after.v, got, want)
		}
		if app := string(typed.AppendID([]byte("x"))); app != "x"+got || len(got) != 24 {
			t.Errorf("key %#v: AppendID appended %q, ID is %q (want 24 characters)", k.v, app, got)
		}
		if seen[want] {
			t.Errorf("key %#v: ID %s given twice", k.v, want)
		}
		seen[want] = true
	}
}

// TestFloatFormEqualsStrconv: a float's ID piece, written from its cents for a price (record.Cents), is
// the 'i' and 'f' text or the 'f' and 'g' text strconv gives (the form IDs were made with): prices of
// every size up to the fast path's bound and past it ('g' turns to exponents from 1e6), negative, zero,
// integers, and doubles next to them that are not prices.
func TestFloatFormEqualsStrconv(t *testing.T) {
	ref := func(x float64) string {
		if x == math.Trunc(x) && math.Abs(x) < 1e21 {
			return "i" + strconv.FormatFloat(x, 'f', -1, 64)
		}
		return "f" + strconv.FormatFloat(x, 'g', -1, 64)
	}
	xs := []float64{0, math.Copysign(0, -1), 0.01, -0.01, 0.05, 0.5, 999999.99, 1e6, 1000000.01, -999999.99, -1000000.5,
		9999999999999.99, 1e13, 1e15, 1e21, math.NaN(), math.Inf(-1), 5e-324}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 50_000 {
		k := rng.Int64N(2e15) - 1e15
		for range rng.IntN(14) {
			k /= 10
		}
		x := float64(k) / 100
		xs = append(xs, x, math.Nextafter(x, 0), float64(k), math.Float64frombits(rng.Uint64()))
	}
	for _, x := range xs {
		if got, want := string(appendFloat(nil, x)), ref(x); got != want {
			t.Errorf("%v: piece %q, want %q", x, got, want)
		}
	}
}

package diff

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/runner/engine"
)

// csvTestSchema is the diff-side columns of TestCSVLinesEqualDuckDBCopy: every type a snapshot column can be
// cast from by a commit (apply.commitSeqs), named by the snapshot type they become.
var csvTestSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "text", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "big", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "small", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "dbl", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "flt", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "sale price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "local", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	{Name: "secs", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}, Nullable: true},
	{Name: "millis", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
}, nil)

// csvTestCasts are the snapshot's columns: the diff's cast as a commit casts them.
var csvTestCasts = []string{"BIGINT", "VARCHAR", "BIGINT", "BIGINT", "DOUBLE", "DOUBLE", "DOUBLE", "BOOLEAN", "DATE",
	"TIMESTAMPTZ", "TIMESTAMPTZ", "TIMESTAMPTZ", "TIMESTAMPTZ"}

// csvTestFarDays are dates far from today's, each a class of its own: the first days whose microseconds
// overflow int64 into the years 1 to 9999 (about the years 584,555 and 586,524 AD, and BC), DuckDB's
// infinities (the int32 extremes), and the days around 0001-01-01 and 10000-01-01.
var csvTestFarDays = []arrow.Date32{212_784_821, 213_503_982, 216_000_000, -212_784_821, -213_503_982, -216_000_000,
	math.MaxInt32, -math.MaxInt32, math.MaxInt32 - 1, -719_162, -719_163, 2_932_896, 2_932_897, 106_751_991, 106_751_992}

// csvTestEdgeFloats are doubles at the edges of DuckDB's formatting (each also tried negated): subnormals
// (the smallest, the largest, one between), the smallest normal, the neighbours of the fixed/exponent
// boundaries (1e-4, 1e-5, 1e15, 1e16), values of 17 significant digits, the largest integers a double
// holds exactly, and the neighbours of the encoder's price fast path's bound (1e13, |k| < 1e15 cents).
var csvTestEdgeFloats = []float64{
	math.Float64frombits(1), math.Float64frombits(1<<52 - 1), math.Float64frombits(1 << 40), 2.2250738585072014e-308,
	math.Nextafter(1e-4, 0), math.Nextafter(1e-4, 1), math.Nextafter(1e-5, 0), math.Nextafter(1e-5, 1), 0.0001, 0.00001,
	math.Nextafter(1e15, 0), math.Nextafter(1e15, 2e15), math.Nextafter(1e16, 0), math.Nextafter(1e16, 2e16),
	0.30000000000000004, 1.7976931348623157e308, 2.718281828459045, 123456789012345680, 9007199254740992, 9007199254740993,
	9999999999999.99, 9999999999999.995, 10000000000000, 10000000000000.01, 0.01, 0.005, 0.015, 1e-2, 5e-3,
	float64(float32(0.1)), float64(math.MaxFloat32), float64(math.SmallestNonzeroFloat32),
}

var csvTestTexts = []string{"", "a", "Z", "0", " ", ",", "\t", `"`, "#", "\n", "\r", `\`, "'", "é", "€", "😀", ";", "|", "NULL", "\x01", "\x00", "  lead", "trail  ", "a#b", "\r\n", "\"\""}

// csvTestFloat is a double of the classes DuckDB formats differently: random bits, prices (of any size:
// the encoder writes those without strconv), powers of ten and their neighbours (the fixed/exponent
// boundaries at 1e-4 and 1e16 among them), integers, extremes.
func csvTestFloat(r *rand.Rand) float64 {
	switch r.IntN(10) {
	case 8:
		return float64(r.Int64N(2e15)-1e15) / 100 // cents, up to the encoder's fast path's bound
	case 9:
		return float64(r.Int64N(1e9)) / 1000
	case 0:
		return math.Float64frombits(r.Uint64())
	case 1:
		return float64(r.IntN(10_000_000)-5_000_000) / 100
	case 2:
		x := math.Pow(10, float64(r.IntN(660)-330))
		for range r.IntN(3) {
			x = math.Nextafter(x, math.Inf(2*r.IntN(2)-1))
		}
		return x
	case 3:
		return float64(r.Int64N(1<<62)) * float64(2*r.IntN(2)-1)
	case 4:
		if r.IntN(2) == 0 {
			return csvTestEdgeFloats[r.IntN(len(csvTestEdgeFloats))] * float64(2*r.IntN(2)-1)
		}
		return []float64{0, math.Copysign(0, -1), math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 1e15, 1e16,
			9999999999999998, 1e-4, 1e-5, 0.1, 0.2, 0.3, 1.0 / 3, math.NaN(), math.Inf(1), math.Inf(-1), 123456.789}[r.IntN(18)]
	case 5:
		return (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(40)-20))
	case 6:
		return float64(r.IntN(1<<20)) / 1024
	}
	return r.NormFloat64()
}

func csvTestBatch(r *rand.Rand, n int) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, csvTestSchema)
	defer b.Release()
	null := func(fb array.Builder) bool {
		if r.IntN(10) == 0 {
			fb.AppendNull()
			return true
		}
		return false
	}
	for i := range n {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		if f := b.Field(1).(*array.StringBuilder); !null(f) {
			var s strings.Builder
			for range r.IntN(8) {
				s.WriteString(csvTestTexts[r.IntN(len(csvTestTexts))])
			}
			f.Append(s.String())
		}
		if f := b.Field(2).(*array.Int64Builder); !null(f) {
			f.Append([]int64{int64(r.Uint64()), math.MinInt64, math.MaxInt64, 0, -1, int64(r.IntN(1000))}[r.IntN(6)])
		}
		if f := b.Field(3).(*array.Int32Builder); !null(f) {
			f.Append(int32(r.Uint32()))
		}
		if f := b.Field(4).(*array.Float64Builder); !null(f) {
			f.Append(csvTestFloat(r))
		}
		if f := b.Field(5).(*array.Float32Builder); !null(f) {
			if r.IntN(2) == 0 {
				f.Append(math.Float32frombits(r.Uint32()))
			} else {
				f.Append(float32(csvTestFloat(r)))
			}
		}
		if f := b.Field(6).(*array.Float64Builder); !null(f) {
			f.Append(float64(100+r.IntN(49_900)) / 100)
		}
		if f := b.Field(7).(*array.BooleanBuilder); !null(f) {
			f.Append(r.IntN(2) == 0)
		}
		if f := b.Field(8).(*array.Date32Builder); !null(f) {
			if r.IntN(20) == 0 {
				// DuckDB's farthest dates: past the year 500,000 AD (where a day's microseconds pass int64's
				// range, and from 212,784,821 days on some wrap to the years 1 to 9999), the infinities, the
				// boundaries.
				f.Append(csvTestFarDays[r.IntN(len(csvTestFarDays))])
			} else {
				f.Append(arrow.Date32(r.IntN(3_800_000) - 800_000)) // about 220 BC to 10,370 AD
			}
		}
		for k := 9; k <= 10; k++ {
			if f := b.Field(k).(*array.TimestampBuilder); !null(f) {
				us := r.Int64N(340_000_000_000_000_000) - 70_000_000_000_000_000 // about 250 BC to 10,700 AD
				switch r.IntN(4) {
				case 0:
					us -= us % 1_000_000
				case 1:
					us -= us % 10_000
				case 2:
					us = r.Int64N(4_000_000_000_000_000) - 2_000_000_000_000_000 // 1907 to 2033
				}
				f.Append(arrow.Timestamp(us))
			}
		}
		if f := b.Field(11).(*array.TimestampBuilder); !null(f) {
			f.Append(arrow.Timestamp(r.Int64N(250_000_000_000) - 62_000_000_000)) // about year 5 to 9892
		}
		if f := b.Field(12).(*array.TimestampBuilder); !null(f) {
			ms := r.Int64N(340_000_000_000_000) - 70_000_000_000_000 // about 250 BC to 10,700 AD
			if r.IntN(2) == 0 {
				ms = []int64{-62_135_596_800_000, -62_135_596_800_001, 253_402_300_799_999, 253_402_300_800_000, -1, 0, 1}[r.IntN(7)]
			}
			f.Append(arrow.Timestamp(ms))
		}
	}
	return b.NewRecordBatch()
}

// TestCSVLinesEqualDuckDBCopy is the encoder's differential test: random records of every column type a
// snapshot holds (awkward text, NULLs, extreme doubles, times with fractions, dates before 1970 and BC), cast
// as a commit casts them, written by DuckDB's COPY and by the encoder from the diff's Arrow columns, in
// both delimiters: the lines the encoder writes are DuckDB's bytes, and it declines only the values it
// does not handle (NaN, infinities, years outside 1 to 9999).
func TestCSVLinesEqualDuckDBCopy(t *testing.T) {
	ctx := context.Background()
	db, exec := openTestDB(t, engine.Options{Threads: 1})
	exec("SET preserve_insertion_order = true")
	for seed := uint64(1); seed <= 4; seed++ {
		r := rand.New(rand.NewPCG(seed, 15))
		b := csvTestBatch(r, 20_000)
		if err := db.LoadBatch(ctx, "src", b); err != nil {
			t.Fatal(err)
		}
		b.Release()
		exec("CREATE OR REPLACE TABLE snap AS SELECT " + strings.Join(func() []string {
			var cols []string
			for j, c := range csvTestCasts {
				n := engine.Ident(csvTestSchema.Field(j).Name)
				cols = append(cols, "CAST("+n+" AS "+c+") AS "+n)
			}
			return cols
		}(), ", ") + " FROM src ORDER BY id")
		f := &CSVFormat{Key: []string{"id"}}
		rows, err := db.Rows(ctx, "SELECT column_name, column_type FROM (DESCRIBE snap)")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var n, ty string
			if err := rows.Scan(&n, &ty); err != nil {
				t.Fatal(err)
			}
			f.Names, f.Types = append(f.Names, n), append(f.Types, ty)
		}
		rows.Close()
		for _, delim := range []byte{',', '\t'} {
			f.Delim = delim
			var lines, tokens [][]byte
			var declined []string
			enc, alone := newCSVEncoder(f), newCSVEncoder(f)
			err := db.Query(ctx, "SELECT * FROM src ORDER BY id", func(b arrow.RecordBatch) error {
				if err := enc.resolve(b); err != nil {
					return err
				}
				for i := range int(b.NumRows()) {
					line, ok := enc.appendLine(nil, i)
					tok, kok := enc.appendKeyToken(nil, i)
					if !kok {
						return fmt.Errorf("row %d: no key token", i)
					}
					// The row alone (a slice whose columns hold no null but the row's own: the encoder reads
					// no null bit of those) gives the same line.
					one := b.NewSlice(int64(i), int64(i+1))
					err := alone.resolve(one)
					oneLine, oneOK := alone.appendLine(nil, 0)
					one.Release()
					if err != nil || oneOK != ok || string(oneLine) != string(line) {
						return fmt.Errorf("row %d: line %q (%v) alone, %q (%v) in its batch (%v)", i, oneLine, oneOK, line, ok, err)
					}
					tokens = append(tokens, tok)
					if !ok {
						declined = append(declined, fmt.Sprint(b.Column(0).(*array.Int64).Value(i)))
						continue
					}
					lines = append(lines, line)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i < len(tokens); i++ {
				if bytes.Compare(tokens[i-1], tokens[i]) >= 0 {
					t.Fatalf("key tokens %d and %d out of order", i-1, i)
				}
			}
			// The rows declined are those holding a value outside the encoder's classes, no other.
			outside := "isnan(dbl) OR isinf(dbl) OR isnan(flt) OR isinf(flt) OR NOT isfinite(day) OR year(day) NOT BETWEEN 1 AND 9999 OR day < DATE '0001-01-01'" +
				` OR "at" < TIMESTAMPTZ '0001-01-01 00:00:00+00' OR "at" >= TIMESTAMPTZ '10000-01-01 00:00:00+00'` +
				` OR "local" < TIMESTAMPTZ '0001-01-01 00:00:00+00' OR "local" >= TIMESTAMPTZ '10000-01-01 00:00:00+00'` +
				` OR secs < TIMESTAMPTZ '0001-01-01 00:00:00+00' OR secs >= TIMESTAMPTZ '10000-01-01 00:00:00+00'` +
				` OR millis < TIMESTAMPTZ '0001-01-01 00:00:00+00' OR millis >= TIMESTAMPTZ '10000-01-01 00:00:00+00'`
			want, err := db.Count(ctx, "SELECT count(*) FROM snap WHERE "+outside)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(declined)) != want || len(lines) < 10_000 {
				t.Fatalf("seed %d: the encoder declined %d rows, %d hold a value outside its classes (%d lines)", seed, len(declined), want, len(lines))
			}
			header, ok := f.Header()
			if !ok {
				t.Fatal("no header for plain names")
			}
			path := filepath.Join(t.TempDir(), "snap.csv")
			q := "SELECT * FROM snap"
			if len(declined) > 0 {
				q += " WHERE id NOT IN (" + strings.Join(declined, ",") + ")"
			}
			exec(fmt.Sprintf("COPY (%s ORDER BY id) TO %s (FORMAT csv, HEADER true, DELIMITER %s)", q, engine.Lit(path), engine.Lit(string(delim))))
			duck, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got := append(header, bytes.Join(lines, nil)...)
			if !bytes.Equal(got, duck) {
				gl, dl := bytes.SplitAfter(got, []byte("\n")), bytes.SplitAfter(duck, []byte("\n"))
				for i := range min(len(gl), len(dl)) {
					if !bytes.Equal(gl[i], dl[i]) {
						t.Fatalf("seed %d, delimiter %q: line %d\n go:     %q\n duckdb: %q", seed, delim, i, gl[i], dl[i])
					}
				}
				t.Fatalf("seed %d, delimiter %q: %d bytes, DuckDB's %d", seed, delim, len(got), len(duck))
			}
		}
	}
}

// TestCSVHeaderOnlyPlainNames: a name DuckDB would quote gives no header (the first part is then DuckDB's).
func TestCSVHeaderOnlyPlainNames(t *testing.T) {
	for _, names := range [][]string{{"a", "b#"}, {"a,b"}, {""}, {`x"y`}, {"a\nb"}} {
		if h, ok := (&CSVFormat{Names: names, Delim: ','}).Header(); ok {
			t.Errorf("%q: header %q", names, h)
		}
	}
	if h, ok := (&CSVFormat{Names: []string{"a,b", "c d"}, Delim: '\t'}).Header(); !ok || string(h) != "a,b\tc d\n" {
		t.Errorf("tab-delimited header %q %v", h, ok)
	}
}

// TestCSVEncoderDeclinesOtherSnapshotTypes: a diff column whose snapshot type is not the one the encoder
// writes its Arrow type as gives the batch no lines (its part is DuckDB's COPY): DuckDB writes a TIMESTAMP
// without the "+00" of a TIMESTAMPTZ, a DATE cast to TIMESTAMPTZ with a clock, an integer cast to DOUBLE
// with ".0", nanoseconds with digits the encoder does not write; and a key field must be text or an integer.
func TestCSVEncoderDeclinesOtherSnapshotTypes(t *testing.T) {
	for _, tc := range []struct {
		typ  arrow.DataType
		snap string
		ok   bool
	}{
		{&arrow.TimestampType{Unit: arrow.Microsecond}, "TIMESTAMPTZ", true},
		{&arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, "TIMESTAMP WITH TIME ZONE", true},
		{&arrow.TimestampType{Unit: arrow.Microsecond}, "TIMESTAMP", false},
		{&arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, "TIMESTAMP", false},
		{&arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, "TIMESTAMPTZ", false},
		{arrow.FixedWidthTypes.Date32, "DATE", true},
		{arrow.FixedWidthTypes.Date32, "TIMESTAMPTZ", false},
		{arrow.PrimitiveTypes.Int64, "DOUBLE", false},
		{arrow.PrimitiveTypes.Int32, "BIGINT", true},
		{arrow.PrimitiveTypes.Uint64, "BIGINT", false},
		{arrow.PrimitiveTypes.Float64, "VARCHAR", false},
		{arrow.BinaryTypes.String, "VARCHAR", true},
		{arrow.BinaryTypes.Binary, "BLOB", false},
		{&arrow.Decimal128Type{Precision: 18, Scale: 2}, "DECIMAL(18,2)", false},
	} {
		sch := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: tc.typ, Nullable: true}}, nil)
		b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
		b.Field(0).(*array.Int64Builder).Append(1)
		b.Field(1).AppendNull()
		rb := b.NewRecordBatch()
		b.Release()
		enc := newCSVEncoder(&CSVFormat{Names: []string{"id", "v"}, Types: []string{"BIGINT", tc.snap}, Key: []string{"id"}, Delim: ','})
		if err := enc.resolve(rb); (err == nil) != tc.ok {
			t.Errorf("%s as %s: resolve %v, want lines %v", tc.typ, tc.snap, err, tc.ok)
		}
		enc = newCSVEncoder(&CSVFormat{Names: []string{"id", "v"}, Types: []string{"BIGINT", tc.snap}, Key: []string{"v"}, Delim: ','})
		if err := enc.resolve(rb); err == nil && tc.typ.ID() != arrow.STRING && tc.typ.ID() != arrow.INT32 {
			t.Errorf("%s as %s: a key field of that type gets lines", tc.typ, tc.snap)
		}
		rb.Release()
	}
}

// TestTimeTextEqualsAppendFormat: appendTimeText, which writes the years 0 to 9999 from the date Go's civil
// arithmetic gives (civil, appendRFC3339) rather than through time's layout, writes what
// t.UTC().AppendFormat(time.RFC3339Nano) writes, for times in any zone, random and at the edges of its
// range (the first and last instants of the years 0 and 9999, leap days, 1970, fractions with trailing
// zeros), and for the years outside it (the layout's, as before).
func TestTimeTextEqualsAppendFormat(t *testing.T) {
	zone := time.FixedZone("", -7*3600-30*60)
	times := []time.Time{time.Unix(0, 0), time.Unix(-1, 999_999_999), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Nanosecond), time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2000, 2, 29, 12, 0, 0, 100, time.UTC),
		time.Date(1900, 3, 1, 0, 0, 0, 120_000_000, zone), time.Date(-5, 6, 7, 8, 9, 10, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := rand.New(rand.NewPCG(7, 8))
	for range 100_000 {
		sec := r.Int64N(253402300800+62167219200+2*86400) - 62167219200 - 86400
		ns := int64(0)
		switch r.IntN(3) {
		case 0:
			ns = r.Int64N(1e9)
		case 1:
			ns = r.Int64N(1e6) * 1000
		}
		times = append(times, time.Unix(sec, ns), time.Unix(sec, ns).In(zone))
	}
	for _, tm := range times {
		want := tm.UTC().Format(time.RFC3339Nano)
		if got := string(appendTimeText([]byte("x"), tm)); got != "x"+want {
			t.Errorf("%v: %q, want %q", tm, got, "x"+want)
		}
	}
}

// TestTokenTextEscapesZeros: a text key field's token is its bytes with each 0 followed by 0xFF, then 0 0,
// whatever the place and number of its zeros, and the tokens of texts compare as the texts do.
func TestTokenTextEscapesZeros(t *testing.T) {
	texts := []string{"", "\x00", "\x00\x00", "a\x00", "\x00a", "a\x00b\x00\x00c", "abc", "ab", "a\xff", "a\x00\xff"}
	for _, s := range texts {
		var want []byte
		for j := 0; j < len(s); j++ {
			if want = append(want, s[j]); s[j] == 0 {
				want = append(want, 0xFF)
			}
		}
		want = append(want, 0, 0)
		if got := appendTokenText([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("%q: token %q, want %q", s, got[1:], want)
		}
		for _, u := range texts {
			if c := bytes.Compare(appendTokenText(nil, s), appendTokenText(nil, u)); c != strings.Compare(s, u) {
				t.Errorf("tokens of %q and %q compare %d, the texts %d", s, u, c, strings.Compare(s, u))
			}
		}
	}
}

// KeyToken takes a key's fields as a database/sql scan of the snapshot gives them (the early export reads a
// commit's first and last keys so): an integer key field of any width the encoder writes gives the token
// of its int64 value, which is what the lines' tokens hold (appendKeyToken), and a value of another type
// gives none.
func TestKeyTokenOfScannedKeys(t *testing.T) {
	db, _ := openTestDB(t, engine.Options{})
	ctx := context.Background()
	for _, typ := range []string{"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UINTEGER", "USMALLINT", "UTINYINT"} {
		for _, v := range []int64{0, 7, 100, -3} {
			if v < 0 && typ[0] == 'U' {
				continue
			}
			var got any
			if err := db.QueryRow(ctx, fmt.Sprintf("SELECT CAST(%d AS %s), 'x'", v, typ)).Scan(&got, new(any)); err != nil {
				t.Fatalf("%s %d: %v", typ, v, err)
			}
			tok, ok := KeyToken(got, "x")
			want, _ := KeyToken(v, "x")
			if !ok || !bytes.Equal(tok, want) {
				t.Errorf("%s %d scanned as %T: token %x (%v), want %x", typ, v, got, tok, ok, want)
			}
		}
	}
	for _, v := range []any{1.5, true, nil, uint64(1)} {
		if _, ok := KeyToken(v); ok {
			t.Errorf("KeyToken(%T) ok, want no token for a value the encoder does not write", v)
		}
	}
}

// TestNeedsQuotesAgreesWithQuoteTable: the quoting bytes are listed twice, in quoteTable and in
// needsQuotes' scan of 8 bytes at a time; for each delimiter the formats use and every byte, at each
// position of a text long enough for the 8-byte scan and in its tail, needsQuotes says what the table says.
func TestNeedsQuotesAgreesWithQuoteTable(t *testing.T) {
	for _, delim := range []byte{',', '\t', '|', ';'} {
		q := quoteTable(delim)
		for b := 0; b < 256; b++ {
			for _, n := range []int{1, 7, 8, 9, 16, 19} {
				for at := 0; at < n; at++ {
					s := []byte(strings.Repeat("a", n))
					s[at] = byte(b)
					if got, want := needsQuotes(&q, delim, string(s)), q[b] || b == int(delim); got != want {
						t.Fatalf("delimiter %q: needsQuotes of byte %#x at %d of %d = %v, quoteTable says %v", delim, b, at, n, got, want)
					}
				}
			}
		}
	}
}

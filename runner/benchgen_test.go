package runner

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// The benchmark's data set (the shape of the perf notes' §1): a POS catalog export of N products as old.csv
// and the next day's export as new.csv, where 2% of the products changed (1 or 2 of price, qty, sale_price,
// name, active, channel_online, plus updated_at), 0.5% were deleted and 0.5% were added. Rows are ~147 bytes
// of CSV. Generation is deterministic: the same N always gives the same files.

// benchGenVersion is part of the cache folder's name: bump it when the generator's output changes.
const benchGenVersion = 1

// benchColumns are the CSV columns and their possync field types, in file order.
var benchColumns = []struct{ name, typ string }{
	{"sku", "string"}, {"upc", "string"}, {"name", "string"}, {"brand", "string"}, {"category", "string"},
	{"price", "float"}, {"sale_price", "float"}, {"qty", "int"}, {"active", "bool"},
	{"channel_online", "bool"}, {"updated_at", "timestamp"},
}

// benchSet is a generated data set and its ground truth.
type benchSet struct {
	Dir   string
	Truth benchTruth
}

// Old and New are the two exports.
func (s benchSet) Old() string { return filepath.Join(s.Dir, "old.csv") }
func (s benchSet) New() string { return filepath.Join(s.Dir, "new.csv") }

// benchTruth is what the generator did, which the plan must find.
type benchTruth struct {
	Version int `json:"version"`
	// Rows is N, the rows of old.csv; NewRows those of new.csv.
	Rows    int `json:"rows"`
	NewRows int `json:"new_rows"`
	// Inserted, Deleted and Updated count rows added, removed and changed from old to new.
	Inserted int `json:"inserted"`
	Deleted  int `json:"deleted"`
	Updated  int `json:"updated"`
	// Fields counts, per raw column, the updated rows whose value of that column changed.
	Fields map[string]int `json:"fields"`
	// OldBytes and NewBytes are the file sizes.
	OldBytes int64 `json:"old_bytes"`
	NewBytes int64 `json:"new_bytes"`
}

// benchDataDir is where generated data sets are cached: $POSSYNC_BENCH_DIR, else <repo>/bench/data.
func benchDataDir() (string, error) {
	if d := os.Getenv("POSSYNC_BENCH_DIR"); d != "" {
		return filepath.Abs(d)
	}
	return filepath.Abs(filepath.Join("..", "bench", "data")) // tests run in runner/
}

// benchData returns the data set of n rows under root, generating it unless an earlier run left it there.
func benchData(root string, n int) (benchSet, error) {
	set := benchSet{Dir: filepath.Join(root, fmt.Sprintf("v%d-%d", benchGenVersion, n))}
	truthFile := filepath.Join(set.Dir, "truth.json")
	if b, err := os.ReadFile(truthFile); err == nil {
		if err := json.Unmarshal(b, &set.Truth); err == nil && set.Truth.Version == benchGenVersion && set.Truth.Rows == n {
			return set, nil
		}
	}
	if err := os.MkdirAll(set.Dir, 0o755); err != nil {
		return set, fmt.Errorf("bench data: %w", err)
	}
	truth, err := benchGenerate(set.Old(), set.New(), n)
	if err != nil {
		return set, fmt.Errorf("bench data: %w", err)
	}
	set.Truth = truth
	b, err := json.MarshalIndent(truth, "", "  ")
	if err != nil {
		return set, err
	}
	// The truth file is written last: its presence marks a complete data set.
	if err := os.WriteFile(truthFile+".tmp", b, 0o644); err != nil {
		return set, fmt.Errorf("bench data: %w", err)
	}
	return set, os.Rename(truthFile+".tmp", truthFile)
}

// benchRow is one product of the POS export.
type benchRow struct {
	sku, upc, name, brand, category string
	price, salePrice                float64
	hasSale                         bool // false: sale_price is NULL
	qty                             int
	active, online                  bool
	updatedAt                       time.Time
}

// Vocabulary the rows are drawn from.
var (
	benchAdjectives = []string{"Trail", "Summit", "Alpine", "Coastal", "Urban", "Classic", "Ultralight", "Rugged",
		"Merino", "Insulated", "Waterproof", "Packable", "Heritage", "Performance", "Everyday", "Thermal"}
	benchNouns = []string{"Runner", "Daypack", "Shell Jacket", "Crew Sock", "Headlamp", "Camp Stove", "Bottle",
		"Hoodie", "Trek Pole", "Sleeping Bag", "Tent", "Beanie", "Glove", "Hiking Boot", "Fleece Vest", "Duffel"}
	benchColors       = []string{"Black", "Navy", "Olive", "Slate", "Rust", "Sand", "Forest", "Storm", "Ivory", "Plum"}
	benchApparelSizes = []string{"XS", "S", "M", "L", "XL", "One Size", "30L", "45L", "1L", "2P"}
	// Names with these suffixes need CSV quoting (a comma, or a quote for inches).
	benchQuoted     = []string{", Men's", ", Women's", ", 2-pack", ` 12"`, ` 8" Wide`}
	benchBrandHeads = []string{"North", "Ridge", "Peak", "Stone", "River", "Cedar", "Iron", "Pine", "Storm", "Frost",
		"Granite", "Timber", "Canyon", "Summit", "Harbor", "Falcon", "Wolf", "Bear", "Eagle", "Maple",
		"Aspen", "Birch", "Copper", "Silver", "Glacier", "Meadow", "Prairie", "Desert", "Coral", "Lumen",
		"Hydra", "Woolly", "Flame", "Trail", "Alpen", "Nordic", "Sierra", "Cascade", "Delta", "Orbit",
		"Atlas", "Vertex", "Zenith", "Apex", "Terra", "Aqua", "Ember", "Onyx", "Quartz", "Boreal"}
	benchBrandTails = []string{"peak", "line", "craft", "works", "gear", "wear", "co", "outfitters", "supply", "labs",
		"trek", "field", "camp", "ridge", "side", "land", "wood", "stone", "crest", "haven",
		"point", "mark", "forge", "wave", "light", "path", "way", "fold", "rock", "wind",
		"brook", "glen", "vale", "moor", "dale", "shore", "bay", "sky", "star", "fox"} // 50×40 = 2000 brands
	benchDepts = []string{"Footwear", "Apparel", "Packs", "Camping", "Accessories"}
	benchSubs  = []string{"Men", "Women", "Kids", "Unisex", "Travel", "Outlet"}
	benchLeafs = []string{"Running", "Hiking", "Jackets", "Base Layers", "Socks", "Daypacks", "Tents", "Lighting",
		"Cooking", "Hydration"} // 5×6×10 = 300 categories
)

// benchSKUMul spreads row indexes over 10-digit SKUs: i ↦ i·m mod 10¹⁰ is a bijection because m is coprime
// to 10¹⁰, so SKUs are unique, and consecutive rows get scattered SKUs.
const benchSKUMul = 6364136223

// benchRowAt returns row i of a data set; inserted rows take indexes from N on.
func benchRowAt(i int) benchRow {
	r := rand.New(rand.NewPCG(0x5eed, uint64(i)))
	brand := r.IntN(len(benchBrandHeads) * len(benchBrandTails))
	cat := r.IntN(len(benchDepts) * len(benchSubs) * len(benchLeafs))
	row := benchRow{
		sku:   fmt.Sprintf("SK%010d", (uint64(i)*benchSKUMul)%10_000_000_000),
		upc:   fmt.Sprintf("%012d", r.Int64N(1_000_000_000_000)),
		name:  benchName(r),
		brand: benchBrandHeads[brand%len(benchBrandHeads)] + benchBrandTails[brand/len(benchBrandHeads)],
		category: benchDepts[cat%len(benchDepts)] + " > " + benchSubs[cat/len(benchDepts)%len(benchSubs)] +
			" > " + benchLeafs[cat/(len(benchDepts)*len(benchSubs))],
		price:     float64(100+r.IntN(49_900)) / 100,
		qty:       r.IntN(200),
		active:    r.IntN(100) < 95,
		online:    r.IntN(100) < 85,
		updatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(300*24*3600)) * time.Second),
	}
	if r.IntN(10) < 3 {
		row.salePrice, row.hasSale = benchSale(r, row.price), true
	}
	if r.IntN(10) == 0 {
		row.qty = 0
	}
	return row
}

// benchName returns a product name of about 38 characters; 1 in 8 needs CSV quoting.
func benchName(r *rand.Rand) string {
	name := fmt.Sprintf("%s %s %s %s %d", benchAdjectives[r.IntN(len(benchAdjectives))], benchNouns[r.IntN(len(benchNouns))],
		benchColors[r.IntN(len(benchColors))], benchApparelSizes[r.IntN(len(benchApparelSizes))], 100+r.IntN(900))
	if r.IntN(8) == 0 {
		name += benchQuoted[r.IntN(len(benchQuoted))]
	} else {
		name += " Series " + strconv.Itoa(1+r.IntN(4))
	}
	return name
}

// benchSale returns a sale price 5–30% below price.
func benchSale(r *rand.Rand, price float64) float64 {
	return float64(int(price*float64(70+r.IntN(26)))) / 100
}

// benchFields are the columns an update may change (besides updated_at).
var benchFields = []string{"price", "qty", "sale_price", "name", "active", "channel_online"}

// benchUpdate changes 1 or 2 of benchFields of row (each to a different value) and moves updated_at on. It
// returns the names of the changed columns.
func benchUpdate(r *rand.Rand, row *benchRow) []string {
	k := 1 + r.IntN(2)
	perm := r.Perm(len(benchFields))[:k]
	changed := []string{"updated_at"}
	for _, f := range perm {
		switch benchFields[f] {
		case "price":
			row.price = float64(int(row.price*100)+1+r.IntN(2000)) / 100
		case "qty":
			row.qty += 1 + r.IntN(20)
		case "sale_price":
			row.hasSale = !row.hasSale
			if row.hasSale {
				row.salePrice = benchSale(r, row.price)
			}
		case "name":
			row.name += " v2"
		case "active":
			row.active = !row.active
		case "channel_online":
			row.online = !row.online
		}
		changed = append(changed, benchFields[f])
	}
	row.updatedAt = row.updatedAt.Add(time.Duration(1+r.IntN(86400)) * time.Second)
	return changed
}

// benchGenerate writes old.csv (rows 0..n-1) and new.csv (the same rows, some updated or deleted, plus new
// rows interleaved) in one pass, and returns what it did.
func benchGenerate(oldPath, newPath string, n int) (benchTruth, error) {
	t := benchTruth{Version: benchGenVersion, Rows: n, Fields: map[string]int{}}
	oldW, err := newBenchWriter(oldPath)
	if err != nil {
		return t, err
	}
	newW, err := newBenchWriter(newPath)
	if err != nil {
		oldW.abort()
		return t, err
	}
	fate := rand.New(rand.NewPCG(0xfa7e, uint64(n)))
	next := n // index of the next inserted row
	for i := 0; i < n; i++ {
		row := benchRowAt(i)
		oldW.write(&row)
		if fate.IntN(1000) < 5 { // 0.5% inserted, scattered
			ins := benchRowAt(next)
			next++
			newW.write(&ins)
			t.Inserted++
		}
		switch x := fate.IntN(1000); {
		case x < 5: // 0.5% deleted
			t.Deleted++
			continue
		case x < 25: // 2% updated
			for _, f := range benchUpdate(fate, &row) {
				t.Fields[f]++
			}
			t.Updated++
		}
		newW.write(&row)
	}
	t.NewRows = n - t.Deleted + t.Inserted
	if t.OldBytes, err = oldW.close(); err != nil {
		newW.abort()
		return t, err
	}
	if t.NewBytes, err = newW.close(); err != nil {
		return t, err
	}
	return t, nil
}

// benchWriter writes rows as CSV to a temporary file, renamed into place on close.
type benchWriter struct {
	path string
	f    *os.File
	buf  *bufio.Writer
	csv  *csv.Writer
	rec  []string
}

func newBenchWriter(path string) (*benchWriter, error) {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return nil, err
	}
	w := &benchWriter{path: path, f: f, buf: bufio.NewWriterSize(f, 1<<20), rec: make([]string, len(benchColumns))}
	w.csv = csv.NewWriter(w.buf)
	for i, c := range benchColumns {
		w.rec[i] = c.name
	}
	_ = w.csv.Write(w.rec)
	return w, nil
}

func (w *benchWriter) write(r *benchRow) {
	sale := ""
	if r.hasSale {
		sale = strconv.FormatFloat(r.salePrice, 'f', 2, 64)
	}
	w.rec[0], w.rec[1], w.rec[2], w.rec[3], w.rec[4] = r.sku, r.upc, r.name, r.brand, r.category
	w.rec[5], w.rec[6], w.rec[7] = strconv.FormatFloat(r.price, 'f', 2, 64), sale, strconv.Itoa(r.qty)
	w.rec[8], w.rec[9] = strconv.FormatBool(r.active), strconv.FormatBool(r.online)
	w.rec[10] = r.updatedAt.Format(time.DateTime)
	_ = w.csv.Write(w.rec) // errors surface in close
}

// close flushes and renames the file into place, returning its size.
func (w *benchWriter) close() (int64, error) {
	w.csv.Flush()
	err := errors.Join(w.csv.Error(), w.buf.Flush(), w.f.Close())
	if err != nil {
		_ = os.Remove(w.f.Name())
		return 0, fmt.Errorf("write %s: %w", w.path, err)
	}
	fi, err := os.Stat(w.f.Name())
	if err != nil {
		return 0, err
	}
	return fi.Size(), os.Rename(w.f.Name(), w.path)
}

func (w *benchWriter) abort() {
	_ = w.f.Close()
	_ = os.Remove(w.f.Name())
}

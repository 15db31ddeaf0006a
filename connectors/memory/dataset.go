// Package memory is an in-process source and sink, for tests of the runner and of other packages. A test
// registers a dataset with SetDataset and points a pipeline's `memory` source at it; it points the `memory`
// sink at a Target and inspects what was applied, injecting failures with FailKeys and FailAfter.
package memory

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
)

// dataset is one registered dataset; it is never modified once in the map (setters replace it).
type dataset struct {
	schema  *arrow.Schema
	records []record.Record
	mode    connectors.Mode
	key     []string
	version uint64
	err     error
}

var (
	mu       sync.Mutex
	datasets = map[string]*dataset{}
	// versions counts SetDataset calls; each dataset carries the count at its registration.
	versions uint64
)

// SetDataset registers the dataset name, replacing any previous one: a memory source reading it yields
// records (in order, fields missing from a record being null) with the given mode, and its checkpoint is the
// dataset's version, a number that grows with every SetDataset call. The records must not be modified
// afterwards. A nil schema means one with no fields. It clears an error set by SetDatasetError.
func SetDataset(name string, schema *arrow.Schema, records []record.Record, mode connectors.Mode) {
	if schema == nil {
		schema = arrow.NewSchema(nil, nil)
	}
	mu.Lock()
	defer mu.Unlock()
	versions++
	var key []string
	if old, ok := datasets[name]; ok {
		key = old.key
	}
	datasets[name] = &dataset{schema: schema, records: slices.Clone(records), mode: mode, key: key, version: versions}
}

// SetDatasetKey sets the key a read of dataset name reports (connectors.ReadResult.Key), which an
// incremental (connectors.Changes) dataset needs. It keeps the dataset's records and version.
func SetDatasetKey(name string, key ...string) {
	mu.Lock()
	defer mu.Unlock()
	d := dataset{schema: arrow.NewSchema(nil, nil)}
	if old, ok := datasets[name]; ok {
		d = *old
	}
	d.key = slices.Clone(key)
	datasets[name] = &d
}

// SetDatasetError makes Read of the dataset name fail with err (nil clears it). An unknown name is
// registered with an empty schema and no records.
func SetDatasetError(name string, err error) {
	mu.Lock()
	defer mu.Unlock()
	d := dataset{schema: arrow.NewSchema(nil, nil)}
	if old, ok := datasets[name]; ok {
		d = *old
	}
	d.err = err
	datasets[name] = &d
}

// lookup returns the dataset name, or an error listing the known names.
func lookup(name string) (*dataset, error) {
	mu.Lock()
	defer mu.Unlock()
	if d, ok := datasets[name]; ok {
		return d, nil
	}
	names := make([]string, 0, len(datasets))
	for n := range datasets {
		names = append(names, n)
	}
	slices.Sort(names)
	return nil, fmt.Errorf("unknown memory dataset %q (known: %s)", name, strings.Join(names, ", "))
}

// Package record is the one value model of possync's records and its one JSON form: a Record is a row as Go
// values, converted to and from Arrow by the functions of this package (one set of rules for dates, times and
// decimals) and written as JSON by its encoder. Connectors, transforms, the runner and the plan all share it.
//
// It owns: the Go value model, the field type names a pipeline can declare, Arrow conversion, the JSON
// encoder. It may not touch: connectors, DuckDB, the runner or any pipeline configuration.
package record

// Record is one record as Go values: string, int64, float64, bool, time.Time or nil.
type Record map[string]any

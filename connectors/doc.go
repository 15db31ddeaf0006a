// Package connectors defines what a source and a sink are, the optional abilities they may have, and the
// registry through which pipelines find them by type name. Each connector lives in its own folder below this
// one, declares its configuration once (a spec.Component) and registers a constructor in an init function;
// package connectors/all imports every built-in connector for the binary.
//
// Connectors never import DuckDB or the runner: sources hand Arrow record batches (or, for files DuckDB reads
// natively, a declarative Scan) to the runner, and sinks receive the planned changes as Go values. The runner
// owns staging, diffing, state and locking.
package connectors

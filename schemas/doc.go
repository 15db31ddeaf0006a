// Package schemas holds generated, committed artefacts: pipeline.schema.json, the JSON Schema (draft-07) of
// pipeline files for editors (yaml-language-server) and other tooling. `make generate` writes it from the
// component declarations (`possync schema`); the test in this folder fails when it is stale, and checks that
// every example pipeline points its editor at it. pipeline-test.schema.json is the schema of the pipelines'
// test files (NAME_test.yaml, `possync test`; docs/testing.md), written by `possync test --schema`.
package schemas

package spec

// The catalogue of diagnostic codes: every Diagnostic's Code is one of these constants, each reported by
// loading and validating a pipeline file (package pipelines), by a component checking its configuration
// (connectors, transforms) or by the runner checking the assembled pipeline. They are stable: scripts and
// editors may match on them. TestCodeCatalogue fails when a code is written as a literal or declared
// elsewhere, and when an entry here is never used.
const (
	// CodeError: an error that carries no more specific code.
	CodeError = "error"
	// CodeInternal: possync could not check the pipeline for a reason of its own (e.g. its engine failed to
	// start); not a mistake in the file.
	CodeInternal = "internal"

	// CodeFileError: the pipeline file could not be read.
	CodeFileError = "file_error"
	// CodeBadEncoding: the pipeline file is not UTF-8 text; the finding points at the first offending byte.
	CodeBadEncoding = "bad_encoding"
	// CodeYAMLSyntax: the file is not valid YAML (or holds more than one document).
	CodeYAMLSyntax = "yaml_syntax"
	// CodeBadVersion: `version` is not a version this package reads.
	CodeBadVersion = "bad_version"
	// CodeUnknownField: a key that the block does not declare (or a field name that the step's input lacks).
	CodeUnknownField = "unknown_field"
	// CodeMissingField: a required field is absent or empty.
	CodeMissingField = "missing_field"
	// CodeWrongType: a value of the wrong YAML type (a string where a list is wanted, ...).
	CodeWrongType = "wrong_type"
	// CodeBadEnum: a value outside a field's allowed values.
	CodeBadEnum = "bad_enum"
	// CodeBadDuration: a duration field that is not Go duration syntax ("30s", "5m", "1h30m").
	CodeBadDuration = "bad_duration"
	// CodeBadValue: a value of the right type that is not allowed (a name pattern, a size, a range).
	CodeBadValue = "bad_value"
	// CodeUnsetVariable: ${VAR} names an environment variable that is not set and has no default.
	CodeUnsetVariable = "unset_variable"
	// CodeUnknownComponent: a `type` that names no registered source, sink or transform.
	CodeUnknownComponent = "unknown_component"
	// CodeDuplicateName: a step name already used by a source or another step.
	CodeDuplicateName = "duplicate_name"
	// CodeUnknownInput: a step's `input` names no source and no earlier step.
	CodeUnknownInput = "unknown_input"
	// CodeAmbiguousInput: several sources and nothing says which one a step (or the sink) reads.
	CodeAmbiguousInput = "ambiguous_input"
	// CodeSourceConflict: both `source` and `sources`, or neither.
	CodeSourceConflict = "source_conflict"
	// CodeDuplicateKey: a key repeated in one YAML mapping.
	CodeDuplicateKey = "duplicate_key"
	// CodeIgnoredInput (a warning): `input` on a sql step, which reads the relations its query names.
	CodeIgnoredInput = "ignored_input"

	// CodeComponentError: a source, sink or transform refused its configuration when built.
	CodeComponentError = "component_error"
	// CodeKeyNotFound: a `key` field that the records delivered to the sink do not have.
	CodeKeyNotFound = "key_not_found"

	// CodeDiffField: a `diff` option naming a field the records delivered to the sink do not have
	// (active_field, ignore), or active_field naming a field that is not a boolean.
	CodeDiffField = "diff_field"

	// CodeExprCompile: an expression that does not compile (syntax, an unknown function, a type error).
	CodeExprCompile = "expr_compile"
	// CodeExprUnknownField: an expression naming a field its input does not provide.
	CodeExprUnknownField = "expr_unknown_field"
	// CodeExprNotBool: a filter expression whose result is not a boolean.
	CodeExprNotBool = "expr_not_bool"
	// CodeExprTypeMismatch: a map expression whose type differs from the field's declared type.
	CodeExprTypeMismatch = "expr_type_mismatch"
	// CodeExprTypeUnknown: a map field whose type cannot be inferred and is not declared under `types`.
	CodeExprTypeUnknown = "expr_type_unknown"
	// CodeDropNeedsPassthrough: a map step with `drop` but without `passthrough: true`.
	CodeDropNeedsPassthrough = "drop_needs_passthrough"
	// CodeSQLEmpty: a sql step whose query is empty.
	CodeSQLEmpty = "sql_empty"
	// CodeSQLError: a sql step (or an expression run as SQL) that DuckDB refuses: syntax, an unknown
	// relation or column, a type error.
	CodeSQLError = "sql_error"
	// CodePromotionsConfig: a promotions step whose fields name nothing, clash, or are out of range.
	CodePromotionsConfig = "promotions_config"
	// CodeMatchConfig: a match step whose fields name nothing or clash.
	CodeMatchConfig = "match_config"
	// CodeMatchMappings: a match step's mappings file that cannot be read or holds a bad row.
	CodeMatchMappings = "match_mappings"
)

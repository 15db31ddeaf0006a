package pipelines

import (
	"regexp"

	"github.com/possync/possync/spec"
)

// The pipeline file's own fields, declared like a component's so that one validator and one schema generator
// handle both. The component slots (source, sources, transforms, sink) are declared for their descriptions;
// their blocks are validated against the declaration of the component their `type` names.
var (
	topFields = []spec.Field{
		{Name: "version", Type: spec.TypeInt, Required: true, Example: Version,
			Description: "Version of the pipeline file format. Must be 1."},
		{Name: "name", Type: spec.TypeString, Required: true, Example: "acme-catalog",
			Description: "Name of the pipeline: lowercase letters, digits, '-' and '_'. It names the state files."},
		{Name: "merchant", Type: spec.TypeString, Required: true, Example: "acme",
			Description: "The merchant whose stores the pipeline keeps in sync."},
		{Name: "timezone", Type: spec.TypeString, Default: "UTC", Example: "America/Los_Angeles",
			Description: "IANA time zone of the store, for date logic and `--at`."},
		{Name: "key", Type: spec.TypeStringOrList, Required: true, Example: "sku",
			Description: "Field (or list of fields, for a composite key) that identifies a record."},
		{Name: slotSource, Type: spec.TypeObject,
			Description: "The pipeline's input, when it has one. Use `sources` for several."},
		{Name: slotSources, Type: spec.TypeMap, Items: &spec.Field{Type: spec.TypeObject},
			Description: "The pipeline's inputs by name (lowercase letters, digits and '_'), when it has several."},
		{Name: slotTransforms, Type: spec.TypeList, Items: &spec.Field{Type: spec.TypeObject},
			Description: "Steps between the sources and the sink, in order."},
		{Name: slotSink, Type: spec.TypeObject, Required: true,
			Description: "Where the records go."},
		{Name: "state", Type: spec.TypeObject, Fields: stateFields,
			Description: "Where and how the pipeline keeps its state."},
		{Name: "diff", Type: spec.TypeObject, Fields: diffFields,
			Description: "How desired records are compared with the last applied state."},
		{Name: "guards", Type: spec.TypeObject, Fields: guardFields,
			Description: "Limits that block plans which look like accidents."},
	}

	stateFields = []spec.Field{
		{Name: "dir", Type: spec.TypeString, Example: ".possync",
			Description: "Folder of the state database and lock file (default: $POSSYNC_STATE_DIR, else .possync). " +
				"A relative path is relative to the working directory."},
		{Name: "memory_limit", Type: spec.TypeString, Example: "512MB",
			Description: "Memory cap of the staging database, e.g. 512MB or 2GiB; past it, it spills to disk " +
				"(dir/tmp). A cap that is set holds for the whole run. Default: a quarter of RAM (or of the container's memory limit), at most 256MiB, which " +
				"keeps a first sync of 1M records, and a match step over 200,000 items, under 768 MiB of process " +
				"memory, for up to 1.5x the processor time of no cap; unset, a plan against the state (an apply's " +
				"too) raises it to a third of RAM, at most 768MiB, from its transform until its diff has dropped the " +
				"desired records (a plan of 3M records then peaks near 0.9 GiB instead of 0.5, for 16% less processor " +
				"time), and a first sync while its last step sorts the desired records, until its diff takes them. " +
				"A larger cap trades memory for speed."},
		{Name: "threads", Type: spec.TypeInt, Default: 0,
			Description: "Threads of the staging database; 0 means one per core."},
		{Name: "transform_cache", Type: spec.TypeBool, Default: true,
			Description: "Keep the outputs of the map and filter steps that run in Go under dir/tcache, so a run " +
				"where few rows changed runs those rows only. false turns it off for this pipeline (as do " +
				"--no-transform-cache and POSSYNC_TRANSFORM_CACHE=off); it costs speed, never records."},
		{Name: "backend", Type: spec.TypeString, Example: "local",
			Description: "Where the state lives: local (a DuckDB file under dir, the default) or a PostgreSQL URL " +
				"postgres://user@host:5432/db shared by many workers (password from PGPASSWORD, never printed). " +
				"$POSSYNC_STATE_URL overrides it. See docs/state.md."},
		{Name: "schema", Type: spec.TypeString, Example: "possync",
			Description: "PostgreSQL schema of the state tables (default possync); one per installation."},
	}

	diffFields = []spec.Field{
		{Name: "on_missing", Type: spec.TypeString, Default: string(MissingDelete),
			Enum: []string{string(MissingDelete), string(MissingDeactivate), string(MissingKeep)},
			Description: "What happens to a record that was applied before and is missing now. " +
				"deactivate needs active_field."},
		{Name: "on_change", Type: spec.TypeString, Default: string(ChangeUpdate),
			Enum: []string{string(ChangeUpdate), string(ChangeKeep)},
			Description: "What happens to a record that was applied before and whose values changed: update, or " +
				"keep (never sent again; for orders, which are imported once)."},
		{Name: "active_field", Type: spec.TypeString, Example: "enabled",
			Description: "Boolean field saying whether a record is on sale; turning it off plans a deactivate."},
		{Name: "ignore", Type: spec.TypeList, Items: &spec.Field{Type: spec.TypeString}, Example: []any{"updated_at"},
			Description: "Fields carried to the sink but never compared."},
	}

	guardFields = []spec.Field{
		{Name: "max_delete_percent", Type: spec.TypeFloat, Default: 10.0,
			Description: "Block a plan that deletes or deactivates more than this percentage of the records " +
				"in state. A negative value disables the guard."},
	}

	// typeField is the reserved `type` key of every component block.
	typeField = spec.Field{Name: "type", Type: spec.TypeString, Required: true,
		Description: "The registered component type."}

	// nameField and inputField are the reserved keys of a transform block besides `type`.
	nameField = spec.Field{Name: "name", Type: spec.TypeString,
		Description: "Name of the step (lowercase letters, digits and '_'), for later steps' `input` and sql queries."}
	inputField = spec.Field{Name: "input", Type: spec.TypeString,
		Description: "The source or earlier step the step reads (default: the previous step, or the only source)."}
	stepFields = []spec.Field{nameField, inputField}
)

// Component slots of the pipeline file.
const (
	slotSource     = "source"
	slotSources    = "sources"
	slotTransforms = "transforms"
	slotSink       = "sink"
)

// ownBlocks are the top-level fields that build validates itself: the component slots and the blocks that
// fill State, Diff and Guards.
var ownBlocks = map[string]bool{slotSource: true, slotSources: true, slotTransforms: true, slotSink: true,
	"state": true, "diff": true, "guards": true}

// sqlType is the transform type whose steps read the relations their query names instead of `input`.
const sqlType = "sql"

// stateDirEnv is the environment variable holding the default state folder.
const stateDirEnv = "POSSYNC_STATE_DIR"

// stateURLEnv is the environment variable overriding `state.backend`.
const stateURLEnv = "POSSYNC_STATE_URL"

// defaultStateDir is the state folder when neither the file nor the environment names one.
const defaultStateDir = ".possync"

// Patterns of constrained strings; they are valid both as Go and as ECMA-262 (JSON Schema) expressions.
const (
	pipelineNamePattern = `^[a-z0-9][a-z0-9_-]*$`
	relationNamePattern = `^[a-z][a-z0-9_]*$`
	memoryLimitPattern  = `^[0-9]+(\.[0-9]+)? ?([KMGTkmgt][Bb]|[KMGTkmgt]i[Bb])$`
)

var (
	pipelineNameRe = regexp.MustCompile(pipelineNamePattern)
	relationNameRe = regexp.MustCompile(relationNamePattern)
	memoryLimitRe  = regexp.MustCompile(memoryLimitPattern)
)

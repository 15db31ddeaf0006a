package pipelines

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/possync/possync/spec"
)

// configHash returns the sha256 (hex) of a canonical JSON of the pipeline's effective configuration: values
// after interpolation and defaults, expressions by their text (not their position), and each secret replaced
// by its own sha256, so that a changed secret changes the hash without the hash input ever holding it.
func configHash(p *Pipeline) (string, error) {
	comp := func(c *Component) map[string]any {
		return map[string]any{"name": c.Name, "type": c.Type, "config": c.Config.Values}
	}
	sources := make([]any, len(p.Sources))
	for i, s := range p.Sources {
		sources[i] = comp(s)
	}
	steps := make([]any, len(p.Transforms))
	for i, st := range p.Transforms {
		m := comp(&st.Component)
		m["input"] = st.Input
		steps[i] = m
	}
	doc := map[string]any{
		"version":    p.Version,
		"name":       p.Name,
		"merchant":   p.Merchant,
		"timezone":   p.TimeZone.String(),
		"key":        p.Key,
		"sources":    sources,
		"transforms": steps,
		"sink":       comp(p.Sink),
		"state":      map[string]any{"dir": p.State.Dir, "memory_limit": p.State.MemoryLimit, "threads": p.State.Threads},
		"diff": map[string]any{"on_missing": string(p.Diff.OnMissing), "active_field": p.Diff.ActiveField,
			"ignore": p.Diff.Ignore},
		"guards": map[string]any{"max_delete_percent": p.Guards.MaxDeletePercent},
	}
	if p.Diff.OnChange != "" && p.Diff.OnChange != ChangeUpdate { // absent: the hash of files written before on_change
		doc["diff"].(map[string]any)["on_change"] = string(p.Diff.OnChange)
	}
	b, err := json.Marshal(canonical(doc))
	if err != nil {
		return "", fmt.Errorf("hash pipeline configuration: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// canonical converts a configuration value to plain JSON data (json.Marshal sorts map keys).
func canonical(v any) any {
	switch x := v.(type) {
	case spec.Secret:
		sum := sha256.Sum256([]byte(x.Reveal()))
		return "sha256:" + hex.EncodeToString(sum[:])
	case spec.Expr:
		return x.Text
	case time.Duration:
		return x.String()
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = canonical(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = canonical(e)
		}
		return out
	}
	return v
}

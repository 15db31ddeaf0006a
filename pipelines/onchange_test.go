package pipelines

import (
	"strings"
	"testing"
)

// diff.on_change: update by default, keep when asked; another value is refused with the choices; the hash
// of a pipeline that does not set it is the hash it had before the option existed.
func TestDiffOnChange(t *testing.T) {
	base := mustParse(t, head+src+snk, nil)
	if base.Diff.OnChange != ChangeUpdate {
		t.Errorf("default on_change %q, want update", base.Diff.OnChange)
	}
	explicit := mustParse(t, head+src+snk+"diff: {on_change: update}\n", nil)
	if explicit.Hash != base.Hash {
		t.Errorf("on_change: update changed the hash of the pipeline")
	}
	keep := mustParse(t, head+src+snk+"diff: {on_missing: keep, on_change: keep}\n", nil)
	if keep.Diff.OnChange != ChangeKeep || keep.Diff.OnMissing != MissingKeep {
		t.Errorf("diff %+v, want on_change keep and on_missing keep", keep.Diff)
	}
	if keep.Hash == mustParse(t, head+src+snk+"diff: {on_missing: keep}\n", nil).Hash {
		t.Errorf("on_change: keep did not change the hash: a plan saved without it would apply under it")
	}
	_, diags := parse(t, head+src+snk+"diff: {on_change: ignore}\n", nil)
	if !diags.HasErrors() || !strings.Contains(diags.Err().Error(), "on_change") || !strings.Contains(diags.Err().Error(), "keep") {
		t.Errorf("on_change: ignore: diagnostics %v, want the field and its choices", diags)
	}
}

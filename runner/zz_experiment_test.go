package runner_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/possync/possync/runner"
)

func TestZZExperiment(t *testing.T) {
	for name, input := range map[string]string{
		"unclosed quote":  "sku,name,price\nA,\"anchor,3\nB,bottle,2.5\nC,cup,1\n",
		"truncated row":   "sku,name,price\nA,anchor,3\nB,bottle,2.5\nC,cu",
		"binary":          "sku,name,price\nA,anchor,3\n\x00\x01\x02\xff\xfe\x80garbage\x00,\x00\nC,cup,1\n",
		"wrong delimiter": "sku;name;price\nA;anchor;3\nB;bottle;2.5\n",
		"latin1":          "sku,name,price\nA,caf\xe9,3\n",
		"too many fields": "sku,name,price\nA,anchor,3,4\nB,bottle,2.5\n",
		"truncated last, no eol, wide": "sku,name,price,x,y,z\nA,anchor,3,1,2,3\nB,bo",
		"truncated quote": "sku,name,price\nA,anchor,3\nB,\"bot",
	} {
		dir := csvCase(t, input)
		if name == "truncated last, no eol, wide" {
			writeFile(t, filepath.Join(dir, "pipeline.yaml"), strings.Replace(csvPipeline, "    - {name: price, type: float}", "    - {name: price, type: float}\n    - {name: x, type: int}\n    - {name: y, type: int}\n    - {name: z, type: int}", 1))
		}
		p := loadAt(t, dir)
		_, err := runner.Plan(context.Background(), p, runner.Options{})
		t.Logf("=== %s (%s):\n%v", name, filepath.Base(dir), err)
	}
}

package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadExplainsBrokenDocuments checks that a file that is not a plan document says what is wrong with it
// in terms of the file (empty, truncated, UTF-16, where the JSON breaks, the wrong shape), not Go's decoder.
func TestReadExplainsBrokenDocuments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plan.json")
	tests := []struct{ name, content, want string }{
		{"empty", "", "the file is empty"},
		{"blank", " \n\t\n", "the file is empty"},
		{"truncated", "{\n  \"format_version\": \"1.0\",\n  \"pipeline\": {\n    \"name\": \"sh", "the file ends in the middle of the document (truncated after 60 bytes?)"},
		{"UTF-16", "\xff\xfe{\x00}\x00", "the file is UTF-16 text"},
		{"binary", "{\"format_version\": \"1.0\",\n \x00\x01", "not JSON at line 2, column 2: invalid character '\\x00'"},
		{"garbage", "\xe9\x12PK", "not JSON at line 1, column 1"},
		{"an array", "[1, 2]", "want a JSON object, have an array"},
		{"a number", "42", "want a JSON object, have a number"},
		{"a field of the wrong type", "{\n  \"format_version\": \"1.0\",\n  \"key\": \"sku\"\n}", "key (line 3) is a string"},
	}
	for _, tt := range tests {
		if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Read(path)
		if err == nil || !strings.Contains(err.Error(), "read plan "+path+": not a plan document: "+tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

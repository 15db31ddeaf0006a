package httpapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDecodeAnswer checks what a 2xx answer that is not the JSON the API documents turns into: an error that
// says what came instead (never "no records" for an empty GET), with the token masked in what it quotes.
func TestDecodeAnswer(t *testing.T) {
	tests := []struct {
		name, method, contentType, body string
		want                            []string // substrings of the error; none: no error
	}{
		{"HTML page", http.MethodGet, "text/html; charset=utf-8", "<!DOCTYPE html><html><body>Sign in to the proxy, tok-SECRET-123 ...</body></html>",
			[]string{"GET /items at 127.0.0.1:", "the answer is not JSON", `Content-Type "text/html; charset=utf-8"`, `starting "<!DOCTYPE html>`, "check base_url"}},
		{"empty GET", http.MethodGet, "application/json", "  \n", []string{"GET /items at 127.0.0.1:", "the answer (HTTP 2xx) is empty", "refusing to read it as no records"}},
		{"cut short", http.MethodGet, "application/json", `{"items": [{"id": 1}, {"id"`, []string{"the answer's JSON is cut short after 27 bytes"}},
		{"wrong type", http.MethodGet, "application/json", `{"items": "none"}`, []string{"field items is a JSON string"}},
		{"empty POST answer", http.MethodPost, "", "", nil},
		{"JSON", http.MethodGet, "application/json", `{"items": [{"id": 1}]}`, nil},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			if tt.contentType != "" {
				w.Header().Set("Content-Type", tt.contentType)
			}
			_, _ = io.WriteString(w, tt.body)
		}))
		var out struct {
			Items []struct {
				ID int `json:"id"`
			} `json:"items"`
		}
		err := newClient(t, srv, nil).Do(context.Background(), tt.method, "/items", nil, nil, &out)
		srv.Close()
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v, want it to say %q", tt.name, err, w)
			}
		}
		if strings.Contains(err.Error(), "tok-SECRET") {
			t.Errorf("%s: the error shows the token: %v", tt.name, err)
		}
	}
}

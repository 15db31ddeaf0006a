package connectors

import (
	"context"
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/spec"
)

type nilSource struct{}

func (*nilSource) Schema() *arrow.Schema                             { return nil }
func (*nilSource) Read(context.Context, ReadRequest) (Reader, error) { return nil, nil }

// TestSourceOfFailedConstructor: a constructor's error gives a nil Source, not an interface holding a nil
// pointer (which `src != nil` would take for a source).
func TestSourceOfFailedConstructor(t *testing.T) {
	boom := errors.New("boom")
	src, err := SourceOf(func(spec.Config, Env) (*nilSource, error) { return nil, boom })(spec.Config{}, Env{})
	if src != nil || !errors.Is(err, boom) {
		t.Fatalf("SourceOf(failing constructor) = %#v, %v; want nil, boom", src, err)
	}
	src, err = SourceOf(func(spec.Config, Env) (*nilSource, error) { return &nilSource{}, nil })(spec.Config{}, Env{})
	if _, ok := src.(*nilSource); !ok || err != nil {
		t.Fatalf("SourceOf(constructor) = %#v, %v; want the source", src, err)
	}
}

package neterr

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestClassifyRealFailures classifies the errors real dials and requests return.
func TestClassifyRealFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	_, refused := net.Dial("tcp", closed)

	untrusted := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer untrusted.Close()
	_, tlsErr := http.Get(untrusted.URL)
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer plain.Close()
	_, scheme := http.Get("ftp" + plain.URL[len("http"):])

	for _, c := range []struct {
		name      string
		err       error
		kind      Kind
		permanent bool
	}{
		{"refused", refused, Refused, true},
		{"untrusted certificate", tlsErr, TLS, true},
		{"ftp scheme", scheme, Scheme, true},
		{"unknown host", &net.DNSError{Err: "no such host", Name: "shop.invalid", IsNotFound: true}, DNS, true},
		{"resolver timeout", &net.DNSError{Err: "i/o timeout", Name: "shop.example", IsTimeout: true}, Timeout, false},
		{"deadline", context.DeadlineExceeded, Timeout, false},
		{"reset", errors.New("read: connection reset by peer"), Other, false},
	} {
		if got := Classify(c.err); got != c.kind || got.Permanent() != c.permanent {
			t.Errorf("%s: Classify(%v) = %d (permanent %v), want %d", c.name, c.err, got, got.Permanent(), c.kind)
		}
	}
	if got := Explain(&net.DNSError{Err: "no such host", Name: "shop.invalid", IsNotFound: true}); got != "the host name shop.invalid does not resolve (check its spelling)" {
		t.Errorf("Explain(DNS) = %q", got)
	}
}

// Package neterr sorts the network failures of the connectors (HTTP APIs, FTP) into what a retry can fix
// and what it cannot, and says which in words a merchant can act on. It owns no connection: the connectors
// pass it the error they got.
package neterr

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"syscall"
)

// Kind is the sort of a network failure.
type Kind int

// Kinds of network failure. Refused, DNS, TLS and Scheme are permanent: the same request fails the same way
// until someone changes the configuration or the server, so a retry only delays the answer.
const (
	// Other is a failure of no known sort (a connection reset, an unexpected EOF): may be transient.
	Other Kind = iota
	// Refused: nothing listens at the address (connection refused).
	Refused
	// DNS: the host name does not resolve.
	DNS
	// TLS: the TLS handshake failed (untrusted or mismatched certificate, or a server not speaking TLS).
	TLS
	// Scheme: the URL's scheme is not one the client speaks (ftp:// for an HTTP API).
	Scheme
	// Timeout: the server did not answer in time; may be transient.
	Timeout
)

// Permanent reports whether retrying cannot help.
func (k Kind) Permanent() bool { return k == Refused || k == DNS || k == TLS || k == Scheme }

// Classify returns the sort of err, a failure to reach or talk to a server.
func Classify(err error) Kind {
	var (
		dns      *net.DNSError
		verr     *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
		alert    tls.AlertError
		nerr     net.Error
	)
	switch {
	case err == nil:
		return Other
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case errors.As(err, &dns):
		if dns.IsTimeout || dns.IsTemporary {
			return Timeout
		}
		return DNS
	case errors.As(err, &verr), errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &invalid),
		errors.As(err, &record), errors.As(err, &alert):
		return TLS
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return TLS
	case strings.Contains(err.Error(), "unsupported protocol scheme"):
		return Scheme
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		return Timeout
	case strings.Contains(err.Error(), "tls: "):
		return TLS
	}
	return Other
}

// Explain returns a short cause of err for an error message, with what to check for the permanent kinds;
// for Other it returns err's own text.
func Explain(err error) string {
	switch Classify(err) {
	case Refused:
		return "connection refused: nothing listens at that address (check the host and port, and that the server is up)"
	case DNS:
		var dns *net.DNSError
		errors.As(err, &dns)
		return "the host name " + dns.Name + " does not resolve (check its spelling)"
	case TLS:
		return "TLS handshake failed: " + tlsCause(err) + " (check the URL's scheme and port, and the server's certificate)"
	case Scheme:
		return "unsupported URL scheme: only http and https are spoken here"
	case Timeout:
		return "no answer in time (" + err.Error() + ")"
	}
	return err.Error()
}

// tlsCause is the innermost message of a TLS failure.
func tlsCause(err error) string {
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		return verr.Err.Error()
	}
	var record tls.RecordHeaderError
	if errors.As(err, &record) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return "the server does not speak TLS there"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, "tls: "); i >= 0 {
		return msg[i:]
	}
	if i := strings.LastIndex(msg, "x509: "); i >= 0 {
		return msg[i:]
	}
	return msg
}

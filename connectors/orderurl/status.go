package orderurl

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/internal/httpapi"
	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/spec"
)

func init() {
	connectors.Sinks.MustRegister(statusSpec, connectors.SinkOf(NewStatusSink))
}

// StatusField is the field of the records the order_url_status sink sends: the website status text.
const StatusField = "status"

// statusConfig is the order_url_status sink's configuration: the order export settings only.
type statusConfig struct {
	endpoint
}

// StatusSink is the order_url_status sink: it sets each order's website status with the Change Status URL
// (UpdateStatus). It is used by one goroutine at a time.
type StatusSink struct {
	c *client
}

var (
	_ connectors.Sink      = (*StatusSink)(nil)
	_ connectors.Canceller = (*StatusSink)(nil)
)

// CancelField names the records' field that turns false when the order is canceled (order_status's active):
// the runner requires diff.active_field to be it, so that a cancellation is a deactivate the guard counts.
func (s *StatusSink) CancelField() string { return order.ColActive }

// NewStatusSink builds the sink; it checks the settings (as the order_url source does) and that the records
// are keyed by order_id and carry status. It touches no network.
func NewStatusSink(cfg spec.Config, env connectors.Env) (*StatusSink, error) {
	c := statusConfig{endpoint: defaultEndpoint()}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	cl, err := c.connect("")
	if err != nil {
		return nil, err
	}
	if len(env.Key) > 0 && !slices.Equal(env.Key, []string{order.ColOrderID}) {
		return nil, fmt.Errorf("the pipeline key is %s; order_url_status needs key: order_id", strings.Join(env.Key, ","))
	}
	if env.Schema != nil && len(env.Schema.FieldIndices(StatusField)) == 0 {
		return nil, fmt.Errorf("the records lack %s: feed the sink the output of order_status", StatusField)
	}
	return &StatusSink{c: cl}, nil
}

// SetSleep replaces how the sink waits between retries, for tests and demos.
func (s *StatusSink) SetSleep(sleep func(ctx context.Context, d time.Duration) error) {
	s.c.sleep = sleep
}

// Close releases idle connections.
func (s *StatusSink) Close() error {
	s.c.http.CloseIdleConnections()
	return nil
}

// Apply sets the status of each created, updated or deactivated (canceled) order: UpdateStatus with the
// record's status. A NULL or empty status, or one equal to the status last applied, is acknowledged without a
// call (nothing to tell the website). A deletion is refused: an order never leaves the website. So is a
// cancellation (active turning false) that comes as a create or an update instead of a deactivate: it would
// have passed the mass-change guard.
func (s *StatusSink) Apply(ctx context.Context, changes []connectors.Change) ([]error, error) {
	out := make([]error, len(changes))
	for i := range out {
		out[i] = connectors.ErrNotAttempted
	}
	for i, c := range changes {
		id, _ := c.Key[order.ColOrderID].(string)
		if c.Action == connectors.Delete {
			out[i] = &connectors.ChangeError{Reason: fmt.Sprintf("order %s: order_url_status never deletes an order (set diff.on_missing: keep)", id)}
			continue
		}
		if order.Cancels(c.Before, c.After) && c.Action != connectors.Deactivate {
			out[i] = &connectors.ChangeError{Reason: fmt.Sprintf("order %s: a cancellation planned as a %s is not sent: it must be "+
				"a deactivate, which the mass-change guard counts (set diff.active_field: %s)", id, c.Action, order.ColActive)}
			continue
		}
		status, _ := c.After[StatusField].(string)
		before, _ := c.Before[StatusField].(string)
		if status = strings.TrimSpace(status); status == "" || status == strings.TrimSpace(before) {
			out[i] = nil
			continue
		}
		err := s.set(ctx, id, status)
		var ce *callError
		switch {
		case ctx.Err() != nil:
			return out, ctx.Err()
		case errors.As(err, &ce) && ce.fatal():
			return out, err
		case errors.As(err, &ce):
			out[i] = &connectors.ChangeError{Status: ce.Status, Reason: fmt.Sprintf("order %s: %v", id, err)}
		case err != nil && errors.Is(err, errRefused):
			out[i] = &connectors.ChangeError{Reason: err.Error()}
		case err != nil:
			return out, err
		default:
			out[i] = nil
		}
	}
	return out, nil
}

// errRefused marks an UpdateStatus the site answered with Success false.
var errRefused = errors.New("refused")

// set sends UpdateStatus for one order.
func (s *StatusSink) set(ctx context.Context, id, status string) error {
	body, err := s.c.call(ctx, "UpdateStatus", url.Values{"OrderNumber": {id}, "OrderStatus": {status}})
	if err != nil {
		return err
	}
	if err := s.c.accepted("UpdateStatus", id, body); err != nil {
		return fmt.Errorf("%w: %s", errRefused, s.c.redact(err.Error()))
	}
	return nil
}

// newClient checks the order export settings shared by the source and the status sink and builds the client.
func newClient(rawURL, merchant string, key spec.Secret, location string, timeout time.Duration, retries int) (*client, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url must be the http(s) Download Order URL, e.g. https://www.example-bikes.com/export/orders")
	}
	for k := range u.Query() {
		if strings.EqualFold(k, "urlkey") {
			return nil, fmt.Errorf("url carries the URL key in its query string: remove it from url (which is not secret) " +
				"and set url_key (from the environment, e.g. ${ORDER_URL_KEY})")
		}
	}
	u.Fragment = ""
	switch {
	case strings.TrimSpace(merchant) == "":
		return nil, fmt.Errorf("merchant is required (the merchant parameter of the website's export URLs)")
	case key.IsZero():
		return nil, fmt.Errorf("url_key is required (the URLkey parameter of the export URLs; read it from the environment)")
	case timeout <= 0:
		return nil, fmt.Errorf("timeout must be positive, not %s", timeout)
	case retries < 0:
		return nil, fmt.Errorf("retries must not be negative")
	}
	return &client{base: u, merchant: strings.TrimSpace(merchant), key: key, location: strings.TrimSpace(location),
		http: &http.Client{Timeout: timeout}, retries: retries, baseDelay: 500 * time.Millisecond, maxDelay: 30 * time.Second,
		sleep: httpapi.Sleep}, nil
}

var statusSpec = spec.Component{
	Kind:    spec.KindSink,
	Name:    "order_url_status",
	Summary: "Set each order's status on the website with its Change Status URL (UpdateStatus), once per change.",
	Description: `Sends GET {url}?method=UpdateStatus&ver=2.00&merchant={merchant}&URLkey={url_key}&OrderNumber={order_id}
&OrderStatus={status} (the order export's Change Status call) for every order record that is created, updated or deactivated (a
cancellation) with a status, e.g. the output of order_status. Key the pipeline by order_id. A NULL or empty
status (nothing to tell yet) and a status equal to the one last sent are acknowledged without a call; a deletion
is refused (set diff.on_missing: keep). A cancellation cannot be undone on the website, so the pipeline must
set diff.active_field: active (plan, apply and validate refuse it otherwise): a cancellation is then a
deactivation, which the mass-change guard (guards.max_delete_percent) counts; one that comes as a create or an
update is rejected, never sent. The website applies the status and, for statuses it notifies about
(Ready for Pickup, Shipping, Canceled in the default table), emails the customer: possync sends the status, the
website decides the email. A call the site refuses (Success false, an unknown order) is a rejected change,
tried again by the next run; a refused URL key stops the run. 503, 502, 504, 429 and timeouts are retried with
exponential backoff. UpdateStatus is idempotent on the site, so a status resent after a crash changes nothing
(the website may email the customer again).`,
	Fields: []spec.Field{
		{Name: "url", Type: spec.TypeString, Required: true, HTTPURL: true, Example: "${ORDER_URL}",
			Description: "The order export URL (the Change Status URL has the same base) without its query string."},
		{Name: "merchant", Type: spec.TypeString, Required: true, Example: "1234",
			Description: "The website's merchant (store) id."},
		{Name: "url_key", Type: spec.TypeString, Required: true, Secret: true, Example: "${ORDER_URL_KEY}",
			Description: "The per-merchant URL key. A secret: read it from the environment."},
		{Name: "timeout", Type: spec.TypeDuration, Default: "60s", Advanced: true,
			Description: "Timeout of each request (a timeout is retried)."},
		{Name: "retries", Type: spec.TypeInt, Default: 5, Advanced: true,
			Description: "Retries of a request the site answered with 503, 502, 504 or 429, or that timed out."},
	},
	Example: `sink:
  type: order_url_status
  url: ${ORDER_URL}
  merchant: "1234"
  url_key: ${ORDER_URL_KEY}`,
	Config: statusConfig{},
}

package shopify

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/spec"
)

func init() {
	connectors.Sinks.MustRegister(statusSpec, connectors.SinkOf(NewStatusSink))
}

// Fields of the records the shopify_status sink reads (the order_status transform's output).
const (
	statusStageField = "stage"
	statusField      = "status"
)

// Stages the sink acts on (order_status).
const (
	stageReady     = "ready"
	stageCompleted = "completed"
	stageCanceled  = "canceled"
)

type statusConfig struct {
	connection
	NotifyCustomer bool   `spec:"notify_customer"`
	CancelReason   string `spec:"cancel_reason"`
	Restock        bool   `spec:"restock"`
	Refund         bool   `spec:"refund"`
}

// StatusSink is the shopify_status sink: it takes each order's POS stage to the shop (prepared for pickup,
// fulfilled, cancelled). It is used by one goroutine at a time.
type StatusSink struct {
	api    *client
	cfg    statusConfig
	byName bool
}

var (
	_ connectors.Sink      = (*StatusSink)(nil)
	_ connectors.Canceller = (*StatusSink)(nil)
)

// CancelField names the records' field that turns false when the order is canceled (order_status's active):
// the runner requires diff.active_field to be it, so that a cancellation is a deactivate the guard counts.
func (s *StatusSink) CancelField() string { return order.ColActive }

// cancels reports whether a change cancels the order: its stage becomes canceled, or active turns false.
func cancels(c *connectors.Change) bool {
	before, _ := c.Before[statusStageField].(string)
	after, _ := c.After[statusStageField].(string)
	return (after == stageCanceled && before != stageCanceled) || order.Cancels(c.Before, c.After)
}

// NewStatusSink builds the sink; it checks the settings and that the records are keyed by order_id and carry
// stage and status. It touches no network.
func NewStatusSink(cfg spec.Config, env connectors.Env) (*StatusSink, error) {
	c := statusConfig{connection: defaultConnection(), NotifyCustomer: true, CancelReason: "OTHER", Restock: true,
		Refund: true}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	base, err := c.check()
	if err != nil {
		return nil, err
	}
	reasons := []string{"CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "STAFF", "OTHER"}
	c.CancelReason = strings.ToUpper(strings.TrimSpace(c.CancelReason))
	switch {
	case !slices.Contains(reasons, c.CancelReason):
		return nil, fmt.Errorf("cancel_reason %q must be one of %s", c.CancelReason, strings.Join(reasons, ", "))
	case c.Timeout <= 0:
		return nil, fmt.Errorf("timeout must be positive, not %s", c.Timeout)
	case len(env.Key) > 0 && !slices.Equal(env.Key, []string{order.ColOrderID}):
		return nil, fmt.Errorf("the pipeline key is %s; shopify_status needs key: order_id", strings.Join(env.Key, ","))
	}
	if env.Schema != nil {
		for _, f := range []string{statusStageField, statusField} {
			if len(env.Schema.FieldIndices(f)) == 0 {
				return nil, fmt.Errorf("the records lack %s: feed the sink the output of order_status", f)
			}
		}
	}
	return &StatusSink{api: newClient(base, c.APIVersion, c.Token, c.Timeout), cfg: c, byName: c.OrderID == "name"}, nil
}

// SetClock replaces the sink's clock and how it waits (throttling, retries), for tests and demos.
func (s *StatusSink) SetClock(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) {
	s.api.now, s.api.sleep = now, sleep
}

// Close releases idle connections.
func (s *StatusSink) Close() error {
	s.api.http.CloseIdleConnections()
	return nil
}

// shopOrder is what the sink reads of an order before acting.
type shopOrder struct {
	ID                string  `json:"id"`
	Name              string  `json:"name"`
	CancelledAt       *string `json:"cancelledAt"`
	FulfillmentStatus string  `json:"displayFulfillmentStatus"`
	FulfillmentOrders struct {
		Nodes []struct {
			ID             string `json:"id"`
			Status         string `json:"status"`
			DeliveryMethod struct {
				MethodType string `json:"methodType"`
			} `json:"deliveryMethod"`
		} `json:"nodes"`
	} `json:"fulfillmentOrders"`
}

const statusOrderFields = `id name cancelledAt displayFulfillmentStatus
    fulfillmentOrders(first: 20) { nodes { id status deliveryMethod { methodType } } }`

const statusOrderByIDQuery = `query PossyncStatusOrder($id: ID!) { order(id: $id) { ` + statusOrderFields + ` } }`

const statusOrderByNameQuery = `query PossyncStatusOrderByName($query: String!) {
  orders(first: 2, query: $query) { nodes { ` + statusOrderFields + ` } }
}`

const preparedForPickupMutation = `mutation PossyncPreparedForPickup($input: FulfillmentOrderLineItemsPreparedForPickupInput!) {
  fulfillmentOrderLineItemsPreparedForPickup(input: $input) { userErrors { field message code } }
}`

const fulfillmentCreateMutation = `mutation PossyncFulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) { fulfillment { id status } userErrors { field message } }
}`

// orderCancelMutation is the 2025-10+ shape (refundMethod); orderCancelRefundMutation the older one (refund).
const orderCancelMutation = `mutation PossyncOrderCancel($orderId: ID!, $reason: OrderCancelReason!, $restock: Boolean!, $notifyCustomer: Boolean, $staffNote: String, $refundMethod: OrderCancelRefundMethodInput) {
  orderCancel(orderId: $orderId, reason: $reason, restock: $restock, notifyCustomer: $notifyCustomer, staffNote: $staffNote, refundMethod: $refundMethod) {
    job { id done } orderCancelUserErrors { field message code }
  }
}`

const orderCancelRefundMutation = `mutation PossyncOrderCancel($orderId: ID!, $reason: OrderCancelReason!, $restock: Boolean!, $notifyCustomer: Boolean, $staffNote: String, $refund: Boolean!) {
  orderCancel(orderId: $orderId, reason: $reason, restock: $restock, notifyCustomer: $notifyCustomer, staffNote: $staffNote, refund: $refund) {
    job { id done } orderCancelUserErrors { field message code }
  }
}`

// Apply takes each created, updated or deactivated order's stage to the shop when its status is set: ready →
// fulfillmentOrderLineItemsPreparedForPickup on its open pickup fulfillment orders; completed →
// fulfillmentCreate of its open fulfillment orders with notify_customer; canceled → orderCancel with the
// refund and restock settings. The order is read first: a stage the shop already shows (fulfilled,
// cancelled) is acknowledged without a mutation. A deletion is refused, and so is a cancellation that comes as a
// create or an update instead of a deactivate (it would have passed the mass-change guard).
func (s *StatusSink) Apply(ctx context.Context, changes []connectors.Change) ([]error, error) {
	out := make([]error, len(changes))
	for i := range out {
		out[i] = connectors.ErrNotAttempted
	}
	for i, c := range changes {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		id, _ := c.Key[order.ColOrderID].(string)
		if c.Action == connectors.Delete {
			out[i] = &connectors.ChangeError{Reason: fmt.Sprintf("order %s: shopify_status never deletes an order (set diff.on_missing: keep)", id)}
			continue
		}
		if cancels(&c) && c.Action != connectors.Deactivate {
			out[i] = &connectors.ChangeError{Reason: fmt.Sprintf("order %s: a cancellation planned as a %s is not sent: it must be "+
				"a deactivate, which the mass-change guard counts (set diff.active_field: %s)", id, c.Action, order.ColActive)}
			continue
		}
		status, _ := c.After[statusField].(string)
		stage, _ := c.After[statusStageField].(string)
		if strings.TrimSpace(status) == "" || (stage != stageReady && stage != stageCompleted && stage != stageCanceled) {
			out[i] = nil // nothing to tell the shop
			continue
		}
		err := s.apply(ctx, id, stage)
		switch {
		case err == nil:
			out[i] = nil
		case fatal(err):
			out[i] = err
			return out, err
		default:
			out[i] = &connectors.ChangeError{Reason: err.Error()}
		}
	}
	return out, nil
}

// apply takes one order to a stage.
func (s *StatusSink) apply(ctx context.Context, id, stage string) error {
	o, err := s.order(ctx, id)
	if err != nil {
		return err
	}
	if o.CancelledAt != nil {
		if stage == stageCanceled {
			return nil // already cancelled on the shop
		}
		return fmt.Errorf("order %s is cancelled on the shop: it cannot be marked %s", id, stage)
	}
	open := func(pickupOnly bool) []map[string]any {
		var fos []map[string]any
		for _, fo := range o.FulfillmentOrders.Nodes {
			if (fo.Status == "OPEN" || fo.Status == "IN_PROGRESS") && (!pickupOnly || fo.DeliveryMethod.MethodType == "PICK_UP") {
				fos = append(fos, map[string]any{"fulfillmentOrderId": fo.ID})
			}
		}
		return fos
	}
	op := func(name string) string { return name + " " + id }
	switch stage {
	case stageReady:
		if o.FulfillmentStatus == "FULFILLED" {
			return nil // already past ready
		}
		fos := open(true)
		if len(fos) == 0 {
			return fmt.Errorf("order %s has no open pickup fulfillment order: it is not a local pickup order on the shop", id)
		}
		var data struct {
			P *struct {
				UserErrors []userError `json:"userErrors"`
			} `json:"fulfillmentOrderLineItemsPreparedForPickup"`
		}
		if err := s.api.do(ctx, "preparedForPickup", op("preparedForPickup"), preparedForPickupMutation,
			map[string]any{"input": map[string]any{"lineItemsByFulfillmentOrder": fos}}, &data); err != nil {
			return err
		}
		if data.P == nil {
			return &Error{Op: op("preparedForPickup"), Message: "the answer has no payload"}
		}
		if len(data.P.UserErrors) > 0 {
			return &Error{Op: op("preparedForPickup"), Message: "userErrors: " + joinUserErrors(data.P.UserErrors)}
		}
	case stageCompleted:
		fos := open(false)
		if o.FulfillmentStatus == "FULFILLED" || len(fos) == 0 {
			return nil // already fulfilled
		}
		var data struct {
			P *struct {
				UserErrors []userError `json:"userErrors"`
			} `json:"fulfillmentCreate"`
		}
		if err := s.api.do(ctx, "fulfillmentCreate", op("fulfillmentCreate"), fulfillmentCreateMutation,
			map[string]any{"fulfillment": map[string]any{"lineItemsByFulfillmentOrder": fos, "notifyCustomer": s.cfg.NotifyCustomer}}, &data); err != nil {
			return err
		}
		if data.P == nil {
			return &Error{Op: op("fulfillmentCreate"), Message: "the answer has no payload"}
		}
		if len(data.P.UserErrors) > 0 {
			return &Error{Op: op("fulfillmentCreate"), Message: "userErrors: " + joinUserErrors(data.P.UserErrors)}
		}
	case stageCanceled:
		vars := map[string]any{"orderId": o.ID, "reason": s.cfg.CancelReason, "restock": s.cfg.Restock,
			"notifyCustomer": s.cfg.NotifyCustomer, "staffNote": "Voided in the POS (possync)"}
		q := orderCancelMutation
		if s.cfg.APIVersion != "unstable" && s.cfg.APIVersion < "2025-10" {
			q, vars["refund"] = orderCancelRefundMutation, s.cfg.Refund
		} else {
			vars["refundMethod"] = map[string]any{"originalPaymentMethodsRefund": s.cfg.Refund}
		}
		var data struct {
			P *struct {
				Job *struct {
					ID   string `json:"id"`
					Done bool   `json:"done"`
				} `json:"job"`
				UserErrors []userError `json:"orderCancelUserErrors"`
			} `json:"orderCancel"`
		}
		if err := s.api.do(ctx, "orderCancel", op("orderCancel"), q, vars, &data); err != nil {
			return err
		}
		if data.P == nil {
			return &Error{Op: op("orderCancel"), Message: "the answer has no payload"}
		}
		if len(data.P.UserErrors) > 0 {
			return &Error{Op: op("orderCancel"), Message: "orderCancelUserErrors: " + joinUserErrors(data.P.UserErrors)}
		}
	}
	return nil
}

// order reads the order of a key: by name (a search) or by numeric id.
func (s *StatusSink) order(ctx context.Context, id string) (*shopOrder, error) {
	op := "order " + id
	if !s.byName {
		if _, err := strconv.ParseUint(id, 10, 64); err != nil {
			return nil, fmt.Errorf("order id %q is not a Shopify order id (set order_id: name?)", id)
		}
		var data struct {
			Order *shopOrder `json:"order"`
		}
		if err := s.api.do(ctx, "order", op, statusOrderByIDQuery, map[string]any{"id": "gid://shopify/Order/" + id}, &data); err != nil {
			return nil, err
		}
		if data.Order == nil {
			return nil, fmt.Errorf("order %s does not exist on the shop", id)
		}
		return data.Order, nil
	}
	var data struct {
		Orders struct {
			Nodes []shopOrder `json:"nodes"`
		} `json:"orders"`
	}
	if err := s.api.do(ctx, "order", op, statusOrderByNameQuery, map[string]any{"query": "name:" + strconv.Quote(id)}, &data); err != nil {
		return nil, err
	}
	var found []shopOrder
	for _, o := range data.Orders.Nodes {
		if o.Name == id {
			found = append(found, o)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("order %s does not exist on the shop", id)
	case 1:
		return &found[0], nil
	}
	return nil, fmt.Errorf("several orders are named %s on the shop", id)
}

var statusSpec = spec.Component{
	Kind:    spec.KindSink,
	Name:    "shopify_status",
	Summary: "Take each order's POS status to Shopify: prepared for pickup, fulfilled (customer notified), cancelled with refund.",
	Description: `Reads the output of order_status (order_id, stage, status) and, for every order created, updated or
deactivated (a cancellation) with a status, acts on the Shopify order (Admin GraphQL mutations):

- ready: fulfillmentOrderLineItemsPreparedForPickup on the order's open PICK_UP fulfillment orders. Shopify
  sends the customer its "Ready for pickup" notification itself. An order without an open pickup fulfillment
  order is rejected (it is not a local pickup order on the shop).
- completed: fulfillmentCreate of the order's open fulfillment orders, with notifyCustomer = notify_customer:
  the customer gets the shipping confirmation (for a pickup order, Shopify shows it picked up).
- canceled: orderCancel with reason cancel_reason, restock, notifyCustomer = notify_customer, a staff note,
  and the refund to the original payment methods (refund; refundMethod from API 2025-10, refund before). The
  customer gets the cancellation email and the refund. Irreversible: the pipeline must set
  diff.active_field: active (plan, apply and validate refuse it otherwise), so that a cancellation is a
  deactivation, which the mass-change guard counts; one that comes as a create or an update is rejected, never
  sent. Shopify runs the cancellation as a job; the sink does not wait for it.

The order is read first (by name, the default, or numeric id, as shopify_orders' order_id): a stage the shop
already shows (fulfilled, cancelled) is acknowledged without a mutation, so a status the website already has
is not sent again. A deletion is refused (diff.on_missing: keep). A userError is a rejected change, tried
again by the next run; a refused token stops the run. The writes move the order's updatedAt, so
shopify_orders reads it again: with diff.on_change: keep the orders pipeline never imports it twice.`,
	Fields: []spec.Field{
		{Name: "shop", Type: spec.TypeString, Example: "acme-outdoor", Description: "The store's myshopify handle. Set this or base_url."},
		{Name: "base_url", Type: spec.TypeString, HTTPURL: true, Advanced: true, Example: "https://acme-outdoor.myshopify.com",
			Description: "The shop's root URL, overriding shop (for emulators and tests)."},
		{Name: "token", Type: spec.TypeString, Required: true, Secret: true, Example: "${SHOPIFY_TOKEN}",
			Description: "Admin API access token with write_merchant_managed_fulfillment_orders and write_orders. A secret."},
		{Name: "api_version", Type: spec.TypeString, Default: defaultAPIVersion, Advanced: true, Description: "The Admin API version."},
		{Name: "order_id", Type: spec.TypeString, Default: "name", Enum: []string{"name", "id"},
			Description: "What order_id holds: the order name (#1001) or the numeric id, as in shopify_orders."},
		{Name: "notify_customer", Type: spec.TypeBool, Default: true,
			Description: "Email the customer on fulfillment and cancellation (pickup readiness is always notified by Shopify)."},
		{Name: "cancel_reason", Type: spec.TypeString, Default: "OTHER", Enum: []string{"CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "STAFF", "OTHER"},
			Description: "The reason given to orderCancel."},
		{Name: "restock", Type: spec.TypeBool, Default: true, Description: "Restock the items of a cancelled order."},
		{Name: "refund", Type: spec.TypeBool, Default: true, Description: "Refund a cancelled order to its original payment methods."},
		{Name: "timeout", Type: spec.TypeDuration, Default: "30s", Advanced: true, Description: "Timeout of each request."},
	},
	Example: `sink:
  type: shopify_status
  shop: acme-outdoor
  token: ${SHOPIFY_TOKEN}`,
	Config: statusConfig{},
}

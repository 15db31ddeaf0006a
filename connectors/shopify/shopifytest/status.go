package shopifytest

import (
	"fmt"
	"slices"
	"strings"
)

// The mutations that take a POS status back to the shop (orders-apis.md B.3), recorded on the order:
//
//   - fulfillmentOrderLineItemsPreparedForPickup(input: {lineItemsByFulfillmentOrder: [{fulfillmentOrderId}]}):
//     each fulfillment order must be a PICK_UP one that is OPEN or IN_PROGRESS; it becomes IN_PROGRESS and
//     ReadyForPickup (Shopify sends the customer the Ready For Pickup notification itself).
//   - fulfillmentCreate(fulfillment: {lineItemsByFulfillmentOrder: [{fulfillmentOrderId}], notifyCustomer}):
//     whole fulfillment orders only (the emulator does not split them); each must be OPEN or IN_PROGRESS and
//     becomes CLOSED; the order's displayFulfillmentStatus becomes FULFILLED once every fulfillment order is
//     closed, PARTIALLY_FULFILLED before.
//   - orderCancel(orderId, reason, restock, notifyCustomer, staffNote, refundMethod | refund): refused with
//     orderCancelUserErrors when the order is already cancelled; otherwise cancelledAt is set, every open
//     fulfillment order is CANCELLED, and the job comes back done.
//
// Each moves the order's updatedAt, as Shopify does, so an orders reader sees the order again.

// statusMutations returns the mutation fields (called under the lock).
func (s *Server) statusMutations() graphNode {
	return graphNode{
		"fulfillmentOrderLineItemsPreparedForPickup": func(args map[string]any) (any, error) {
			in, _ := args["input"].(map[string]any)
			res := graphNode{"__typename": "FulfillmentOrderLineItemsPreparedForPickupPayload", "userErrors": []graphNode{}}
			fos, errs := s.fulfillmentOrders(in, "input", func(fo *FulfillmentOrder) string {
				if fo.MethodType != "PICK_UP" {
					return "Fulfillment order is not a local pickup fulfillment order."
				}
				return ""
			})
			if len(errs) > 0 {
				res["userErrors"] = errs
				return res, nil
			}
			for _, x := range fos {
				x.fo.Status, x.fo.ReadyForPickup = "IN_PROGRESS", true
				x.o.UpdatedAt = s.opts.Now().UTC()
			}
			return res, nil
		},
		"fulfillmentCreate": func(args map[string]any) (any, error) {
			in, _ := args["fulfillment"].(map[string]any)
			res := graphNode{"__typename": "FulfillmentCreatePayload", "fulfillment": nil, "userErrors": []graphNode{}}
			fos, errs := s.fulfillmentOrders(in, "fulfillment", nil)
			if len(errs) > 0 {
				res["userErrors"] = errs
				return res, nil
			}
			notify, _ := in["notifyCustomer"].(bool)
			o := fos[0].o
			f := Fulfillment{NotifyCustomer: notify, At: s.opts.Now().UTC()}
			for _, x := range fos {
				if x.o != o {
					res["userErrors"] = []graphNode{userError([]string{"fulfillment"}, "All fulfillment orders must belong to the same order.", "")}
					return res, nil
				}
			}
			for _, x := range fos {
				x.fo.Status = "CLOSED"
				f.FulfillmentOrderIDs = append(f.FulfillmentOrderIDs, x.fo.ID)
			}
			o.Fulfillments = append(o.Fulfillments, f)
			o.FulfillmentStatus = "FULFILLED"
			for _, fo := range o.FulfillmentOrders {
				if fo.Status != "CLOSED" && fo.Status != "CANCELLED" {
					o.FulfillmentStatus = "PARTIALLY_FULFILLED"
				}
			}
			o.UpdatedAt = f.At
			res["fulfillment"] = graphNode{"__typename": "Fulfillment", "id": GID("Fulfillment", int64(len(o.Fulfillments))),
				"status": "SUCCESS"}
			return res, nil
		},
		"orderCancel": func(args map[string]any) (any, error) {
			res := graphNode{"__typename": "OrderCancelPayload", "job": nil, "orderCancelUserErrors": []graphNode{}}
			id, _ := args["orderId"].(string)
			n, ok := orderID(id)
			o := s.orders[n]
			switch {
			case !ok || o == nil:
				res["orderCancelUserErrors"] = []graphNode{userError([]string{"orderId"}, "Order does not exist", "NOT_FOUND")}
				return res, nil
			case o.CancelledAt != nil:
				res["orderCancelUserErrors"] = []graphNode{userError([]string{"orderId"}, "Cannot cancel a cancelled order", "INVALID")}
				return res, nil
			}
			c := &Cancellation{Reason: fmt.Sprint(args["reason"])}
			c.Restock, _ = args["restock"].(bool)
			c.Notify, _ = args["notifyCustomer"].(bool)
			c.StaffNote, _ = args["staffNote"].(string)
			if rm, ok := args["refundMethod"].(map[string]any); ok {
				c.Refund, _ = rm["originalPaymentMethodsRefund"].(bool)
			} else {
				c.Refund, _ = args["refund"].(bool)
			}
			now := s.opts.Now().UTC()
			o.CancelledAt, o.CancelReason, o.Cancellation, o.UpdatedAt = &now, strings.ToUpper(c.Reason), c, now
			for i := range o.FulfillmentOrders {
				if fo := &o.FulfillmentOrders[i]; fo.Status != "CLOSED" {
					fo.Status = "CANCELLED"
				}
			}
			res["job"] = graphNode{"__typename": "Job", "id": GID("Job", n), "done": true}
			return res, nil
		},
	}
}

type foRef struct {
	o  *Order
	fo *FulfillmentOrder
}

// fulfillmentOrders resolves lineItemsByFulfillmentOrder of an input to open fulfillment orders, with a
// userError per unknown, closed or (by check) refused one.
func (s *Server) fulfillmentOrders(in map[string]any, field string, check func(*FulfillmentOrder) string) ([]foRef, []graphNode) {
	list, _ := in["lineItemsByFulfillmentOrder"].([]any)
	if len(list) == 0 {
		return nil, []graphNode{userError([]string{field, "lineItemsByFulfillmentOrder"}, "Line items by fulfillment order can't be blank", "")}
	}
	var out []foRef
	var errs []graphNode
	for i, e := range list {
		m, _ := e.(map[string]any)
		gid, _ := m["fulfillmentOrderId"].(string)
		at := []string{field, "lineItemsByFulfillmentOrder", fmt.Sprint(i), "fulfillmentOrderId"}
		ref, ok := s.findFulfillmentOrder(gid)
		switch {
		case !ok:
			errs = append(errs, userError(at, "Fulfillment order does not exist.", ""))
		case !slices.Contains([]string{"OPEN", "IN_PROGRESS"}, ref.fo.Status):
			errs = append(errs, userError(at, fmt.Sprintf("Fulfillment order is %s.", strings.ToLower(ref.fo.Status)), ""))
		case check != nil && check(ref.fo) != "":
			errs = append(errs, userError(at, check(ref.fo), ""))
		default:
			out = append(out, ref)
		}
	}
	return out, errs
}

func (s *Server) findFulfillmentOrder(gid string) (foRef, bool) {
	var id int64
	if _, err := fmt.Sscanf(gid, "gid://shopify/FulfillmentOrder/%d", &id); err != nil {
		return foRef{}, false
	}
	for _, o := range s.orders {
		for i := range o.FulfillmentOrders {
			if o.FulfillmentOrders[i].ID == id {
				return foRef{o, &o.FulfillmentOrders[i]}, true
			}
		}
	}
	return foRef{}, false
}

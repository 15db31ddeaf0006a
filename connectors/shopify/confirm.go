package shopify

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/record"
)

// metafieldsPerCall is the most inputs metafieldsSet takes.
const metafieldsPerCall = 25

// Confirm marks the orders of keys as imported: the tag mark_tag (tagsAdd), or the metafield (metafieldsSet,
// 25 per call, value the time), or nothing with mark: none. An order the last read saw carrying the mark is
// not written again, and writing a mark twice is harmless, so Confirm is idempotent. Each key gets an
// outcome: nil when the order carries the mark, else why not (a userError, a failed request, an order the
// last read did not see while order_id is the name). err is set only when no order can be confirmed (the
// token is refused) or ctx ended; the orders not reached then have outcomes saying so.
func (s *Source) Confirm(ctx context.Context, keys []record.Record) ([]error, error) {
	outcomes := make([]error, len(keys))
	if s.mark == "none" {
		return outcomes, nil
	}
	type target struct {
		i     int
		id    string
		order *seenOrder
	}
	var todo []target
	s.mu.Lock()
	for i, k := range keys {
		id, _ := k[order.ColOrderID].(string)
		switch o := s.seen[id]; {
		case id == "":
			outcomes[i] = fmt.Errorf("shopify confirm: the key has no %s", order.ColOrderID)
		case o != nil && o.marked:
			// Already marked: nothing to write.
		case o != nil:
			todo = append(todo, target{i, id, o})
		case !s.byName:
			if _, err := strconv.ParseUint(id, 10, 64); err != nil {
				outcomes[i] = fmt.Errorf("shopify confirm: order id %q is not a Shopify order id", id)
				continue
			}
			todo = append(todo, target{i, id, &seenOrder{gid: "gid://shopify/Order/" + id, name: id}})
		default:
			outcomes[i] = fmt.Errorf("shopify confirm %s: the order was not in this run's read, so its id is unknown; "+
				"it is confirmed when it is read again", id)
		}
	}
	s.mu.Unlock()
	stop := func(from int, err error) ([]error, error) {
		for _, t := range todo[from:] {
			if outcomes[t.i] == nil {
				outcomes[t.i] = fmt.Errorf("shopify confirm %s: not attempted: %w", t.id, err)
			}
		}
		return outcomes, err
	}
	if s.mark == "tag" {
		for n, t := range todo {
			if err := ctx.Err(); err != nil {
				return stop(n, err)
			}
			var data tagsAddData
			err := s.api.do(ctx, "tagsAdd", "tagsAdd "+t.order.name, tagsAddMutation,
				map[string]any{"id": t.order.gid, "tags": []string{s.tag}}, &data)
			switch {
			case err != nil:
				outcomes[t.i] = err
				if fatal(err) {
					return stop(n+1, err)
				}
			case data.TagsAdd == nil:
				outcomes[t.i] = &Error{Op: "tagsAdd " + t.order.name, Message: "the answer has no tagsAdd"}
			case len(data.TagsAdd.UserErrors) > 0:
				outcomes[t.i] = &Error{Op: "tagsAdd " + t.order.name, Message: "userErrors: " + joinUserErrors(data.TagsAdd.UserErrors)}
			default:
				s.setMarked(t.id)
			}
		}
		return outcomes, nil
	}
	// Metafields, 25 per call. metafieldsSet is atomic: when an input is refused, that order gets the
	// userError and the others of the call are sent again without it.
	value := s.api.now().UTC().Format(time.RFC3339)
	for start := 0; start < len(todo); start += metafieldsPerCall {
		if err := ctx.Err(); err != nil {
			return stop(start, err)
		}
		batch := todo[start:min(start+metafieldsPerCall, len(todo))]
		for attempt := 0; len(batch) > 0; attempt++ {
			inputs := make([]map[string]any, len(batch))
			for j, t := range batch {
				inputs[j] = map[string]any{"ownerId": t.order.gid, "namespace": s.namespace, "key": s.key,
					"type": "single_line_text_field", "value": value}
			}
			op := fmt.Sprintf("metafieldsSet %s…%s (%d orders)", batch[0].order.name, batch[len(batch)-1].order.name, len(batch))
			var data metafieldsSetData
			err := s.api.do(ctx, "metafieldsSet", op, metafieldsSetMutation, map[string]any{"metafields": inputs}, &data)
			if err == nil && data.MetafieldsSet == nil {
				err = &Error{Op: op, Message: "the answer has no metafieldsSet"}
			}
			if err != nil {
				for _, t := range batch {
					outcomes[t.i] = err
				}
				if fatal(err) {
					return stop(min(start+metafieldsPerCall, len(todo)), err)
				}
				break
			}
			if len(data.MetafieldsSet.UserErrors) == 0 {
				for _, t := range batch {
					s.setMarked(t.id)
				}
				break
			}
			refused := map[int]bool{}
			for _, ue := range data.MetafieldsSet.UserErrors {
				j := -1
				if len(ue.Field) >= 2 && ue.Field[0] == "metafields" {
					if n, err := strconv.Atoi(ue.Field[1]); err == nil && n >= 0 && n < len(batch) {
						j = n
					}
				}
				if j < 0 || attempt > 0 {
					// Not attributable to one order (or refused again): the whole call failed.
					for _, t := range batch {
						outcomes[t.i] = &Error{Op: op, Message: "userErrors: " + joinUserErrors(data.MetafieldsSet.UserErrors)}
					}
					refused = nil
					break
				}
				refused[j] = true
				outcomes[batch[j].i] = &Error{Op: "metafieldsSet " + batch[j].order.name, Message: "userErrors: " + ue.String()}
			}
			if refused == nil {
				break
			}
			var rest []target
			for j, t := range batch {
				if !refused[j] {
					rest = append(rest, t)
				}
			}
			batch = rest
		}
	}
	return outcomes, nil
}

func (s *Source) setMarked(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.seen[id]; o != nil {
		o.marked = true
	}
}

// fatal reports whether err ends the confirmations: the context ended, or the API refuses the token.
func fatal(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.fatal()
	}
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func joinUserErrors(ues []userError) string {
	out := ""
	for i, u := range ues {
		if i > 0 {
			out += "; "
		}
		out += u.String()
	}
	return out
}

// Package orderstatus is the order_status transform: it turns the POS status of each sale possync created
// (the retailpos_sales source) into the website status to send (domain README §7.3, configurable per
// merchant), and decides what is never sent: a status the website was already told is kept, a sale that goes
// back in the POS (Completed → reopened) keeps the website's status and is reported, a partly fulfilled sale
// is reported, and a cancellation is irreversible.
//
//	type: order_status
//	sales: sales                    # default: the step's input
//	statuses:                       # POS status → website status; "" = never sent
//	  Ready for Pickup: Ready for Pickup
//	  Completed: Shipping
//	  Rejected: Canceled
//
// Output, one row per order: order_id, stage (open, ready, completed, canceled: what the website was told
// last, in that order), status (the website status text to send; NULL while there is nothing to send), active
// (false once the order is canceled: with diff.active_field: active, a cancellation is planned as a
// deactivate, which the mass-change guard counts) and the annotation pos_status (the POS status now). The
// step reads the pipeline's applied records (_applied: order_id, stage, status) to know what the website was
// told, so a stage never goes back.
//
// The step is a SQL step: it needs the _applied relation, which only SQL steps can join.
package orderstatus

import (
	"fmt"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/spec"
	"github.com/possync/possync/transforms"
)

// POS statuses (the retailpos_sales source's pos_status) and the stages they lead to.
const (
	POSReady     = "Ready for Pickup"
	POSCompleted = "Completed"
	POSRejected  = "Rejected"

	StageOpen      = "open"
	StageReady     = "ready"
	StageCompleted = "completed"
	StageCanceled  = "canceled"
)

// Output fields.
const (
	FieldStage     = "stage"
	FieldStatus    = "status"
	FieldActive    = "active"
	FieldPOSStatus = "pos_status"
)

// DefaultStatuses is the default table (domain README §7.3).
var DefaultStatuses = map[string]string{POSReady: "Ready for Pickup", POSCompleted: "Shipping", POSRejected: "Canceled"}

// stageOf maps the POS statuses to stages, in rank order.
var stageOf = []struct{ pos, stage string }{{"", StageOpen}, {POSReady, StageReady}, {POSCompleted, StageCompleted}, {POSRejected, StageCanceled}}

type config struct {
	Sales    string            `spec:"sales"`
	Statuses map[string]string `spec:"statuses"`
}

var component = spec.Component{
	Kind:    spec.KindTransform,
	Name:    "order_status",
	Summary: "Turns the POS status of imported orders into the website status to send back (Ready for Pickup, Completed, Canceled), once per change.",
	Description: "Reads the retailpos_sales source (order_id, pos_status, partial, lines_ready, lines_total) and outputs one row per " +
		"order: order_id, stage (open, ready, completed, canceled), status (the website status to send, from statuses; NULL " +
		"while there is nothing to send), active (false once canceled) and the annotation pos_status.\n\n" +
		"Default table (the one Ascend documents for its Shopify integration): Ready for Pickup → Ready for Pickup (the customer is notified), Completed → " +
		"Shipping (fulfilled; set Dealer Delivery for stores that deliver), Rejected (a voided sale) → Canceled (refund " +
		"and notification). Map a POS status to \"\" to never send it.\n\n" +
		"Stages only move forward (open → ready → completed → canceled): the step reads the applied records (_applied) " +
		"and, when the POS goes back (a completed sale reopened, a packed pickup unpacked), keeps what the website was " +
		"told and adds a plan note naming the order; a canceled order stays canceled. A sale with only some lines " +
		"ready for pickup (partial) stays at its stage with a plan note. An order first seen voided is recorded open " +
		"with a note, so that its cancellation is the next run's deactivation. With key: order_id and diff.active_field: " +
		"active, the runner sends each status once, a rerun sends nothing, and a cancellation is a deactivate, counted " +
		"by guards.max_delete_percent.",
	Fields: []spec.Field{
		{Name: "sales", Type: spec.TypeString, Advanced: true, Example: "sales",
			Description: "The relation of sale statuses (a retailpos_sales source). Default: the step's input."},
		{Name: "statuses", Type: spec.TypeMap, Items: &spec.Field{Type: spec.TypeString},
			Example:     map[string]any{POSReady: "Ready for Pickup", POSCompleted: "Dealer Delivery", POSRejected: "Canceled"},
			Description: "POS status (Ready for Pickup, Completed, Rejected) → website status; \"\" never sends it. Unlisted ones keep the default table."},
	},
	Example: "type: order_status\nstatuses:\n  Completed: Dealer Delivery\n",
	Config:  config{},
}

func init() { transforms.Registry.MustRegister(component, New) }

// Step is a configured order_status transform.
type Step struct {
	c        config
	pos      spec.Pos
	statuses map[string]string
}

var _ interface {
	transforms.Transform
	transforms.SQL
	transforms.Reporter
	transforms.Annotator
} = (*Step)(nil)

// New returns the step; an unknown POS status in statuses is a *spec.Diagnostic.
func New(cfg spec.Config, env transforms.Env) (transforms.Transform, error) {
	var c config
	if err := cfg.Decode(&c); err != nil {
		return nil, fmt.Errorf("order_status: %w", err)
	}
	if c.Sales == "" {
		c.Sales = env.InputName
	}
	st := map[string]string{}
	for k, v := range DefaultStatuses {
		st[k] = v
	}
	var ds spec.Diagnostics
	keys := make([]string, 0, len(c.Statuses))
	for k := range c.Statuses {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := DefaultStatuses[k]; !ok {
			at := cfg.Pos
			at.Path = spec.PointerJoin(at.Path, "statuses", k)
			ds.Append(spec.Errorf(at, spec.CodeBadValue, "use Ready for Pickup, Completed or Rejected",
				"unknown POS status %q", k))
			continue
		}
		st[k] = strings.TrimSpace(c.Statuses[k])
	}
	if err := ds.Err(); err != nil {
		return nil, err
	}
	return &Step{c: c, pos: cfg.Pos, statuses: st}, nil
}

// Schema returns nil: the runner finds the output schema by preparing the query.
func (s *Step) Schema() *arrow.Schema { return nil }

// Annotations names pos_status: shown with a change, never compared nor sent.
func (s *Step) Annotations() []string { return []string{FieldPOSStatus} }

// AppliedFields are the fields the step reads from _applied (null before the first apply).
func (s *Step) AppliedFields() []arrow.Field {
	return []arrow.Field{{Name: FieldStage, Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: FieldStatus, Type: arrow.BinaryTypes.String, Nullable: true}}
}

// Query returns the step's query.
func (s *Step) Query() spec.Expr {
	return spec.Expr{Text: "WITH " + s.decideSQL() + " SELECT __oid AS " + q(order.ColOrderID) +
		", __stage AS " + q(FieldStage) + ", __status AS " + q(FieldStatus) + ", __stage <> " + lit(StageCanceled) +
		" AS " + q(FieldActive) + ", __pos AS " + q(FieldPOSStatus) + " FROM __decided", Pos: s.pos}
}

// ReportSQL returns a note per order whose sale went back in the POS and per partly fulfilled sale.
func (s *Step) ReportSQL(string) string {
	subject := lit(order.ColOrderID+"=") + " || __oid"
	kind := lit(spec.NoteOrderStatus)
	return "WITH " + s.decideSQL() + " SELECT " + kind + " AS kind, CAST(NULL AS TIMESTAMPTZ) AS \"at\", " + subject +
		" AS subject, 'the POS sale is ' || __pos || ' again after the website was told ' || coalesce(__status, __stage) || " +
		"': the website keeps it (possync never takes a status back); change it on the website by hand if needed' AS message " +
		"FROM __decided WHERE __back " +
		"UNION ALL SELECT " + kind + ", NULL, " + subject + ", CAST(__ready AS VARCHAR) || ' of ' || CAST(__total AS VARCHAR) || " +
		"' lines are ready for pickup in the POS: the website is told Ready for Pickup once every line is' " +
		"FROM __decided WHERE __partial " +
		"UNION ALL SELECT " + kind + ", NULL, " + subject + ", 'the POS sale was voided before possync recorded the order: " +
		"it is recorded open now, and the cancellation is planned by the next run as a deactivation the mass-change guard counts' " +
		"FROM __decided WHERE __first_cancel"
}

// decideSQL is the CTE __decided: per order its POS status now (__pos), the stage and status to hold
// (__stage, __status), whether the POS went back (__back), the partial fulfilment (__partial, __ready,
// __total), and whether the order is first seen voided (__first_cancel: recorded open, so that its
// cancellation is a deactivation of the next run, which the guard counts, never a create).
func (s *Step) decideSQL() string {
	var stage, rank, status strings.Builder
	stage.WriteString("CASE __pos")
	rank.WriteString("CASE x")
	status.WriteString("CASE st")
	for i, m := range stageOf {
		if m.pos != "" {
			fmt.Fprintf(&stage, " WHEN %s THEN %s", lit(m.pos), lit(m.stage))
			if v := s.statuses[m.pos]; v != "" {
				fmt.Fprintf(&status, " WHEN %s THEN %s", lit(m.stage), lit(v))
			}
		}
		fmt.Fprintf(&rank, " WHEN %s THEN %d", lit(m.stage), i)
	}
	stage.WriteString(" ELSE " + lit(StageOpen) + " END")
	rank.WriteString(" ELSE 0 END")
	status.WriteString(" ELSE NULL END")
	rankOf := func(x string) string { return "(" + strings.ReplaceAll(rank.String(), "CASE x", "CASE "+x) + ")" }
	statusOf := func(x string) string { return "(" + strings.ReplaceAll(status.String(), "CASE st", "CASE "+x) + ")" }
	col := func(name string) string { return "n." + q(name) }
	return fmt.Sprintf("__now AS (SELECT CAST(%s AS VARCHAR) AS __oid, coalesce(CAST(%s AS VARCHAR), 'open') AS __pos, "+
		"coalesce(%s, false) AS __partial, %s AS __ready, %s AS __total FROM %s n), "+
		"__staged AS (SELECT *, %s AS __nstage FROM __now), "+
		"__prev AS (SELECT CAST(%s AS VARCHAR) AS __poid, CAST(%s AS VARCHAR) AS __pstage, CAST(%s AS VARCHAR) AS __pstatus FROM _applied), "+
		"__ranked AS (SELECT *, %s AS __nr, %s AS __pr FROM __staged LEFT JOIN __prev ON __poid = __oid), "+
		"__held AS (SELECT *, __poid IS NULL AND __nstage = %[14]s AS __first_cancel FROM __ranked), "+
		"__decided AS (SELECT __oid, __pos, __partial AND __nr >= __pr AS __partial, __ready, __total, __nr < __pr AS __back, __first_cancel, "+
		"CASE WHEN __nr < __pr THEN __pstage WHEN __first_cancel THEN %[15]s ELSE __nstage END AS __stage, "+
		"CASE WHEN __nr < __pr THEN __pstatus WHEN __first_cancel THEN NULL ELSE %[13]s END AS __status FROM __held)",
		col(order.ColOrderID), col("pos_status"), col("partial"), col("lines_ready"), col("lines_total"), q(s.c.Sales),
		strings.ReplaceAll(stage.String(), "CASE __pos", "CASE __pos"),
		q(order.ColOrderID), q(FieldStage), q(FieldStatus),
		rankOf("__nstage"), rankOf("coalesce(__pstage, 'open')"), statusOf("__nstage"), lit(StageCanceled), lit(StageOpen))
}

func q(name string) string   { return spec.QuoteIdent(name) }
func lit(text string) string { return spec.QuoteString(text) }

package reserve

import (
	"fmt"
	"strings"

	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/spec"
)

// The queries are generated on one line each (the runner maps a DuckDB error's LINE to the step's position in
// the pipeline file). Internal names start with "__".

// outputSQL is the step's query: the stock with its quantity reduced and the reserved annotation.
func (s *Step) outputSQL() string {
	q := "s." + spec.QuoteIdent(s.c.Quantity)
	sub := "r.__qty"
	if s.whole {
		sub = "CAST(ceil(r.__qty) AS BIGINT)"
	}
	reduced := fmt.Sprintf("CASE WHEN r.__qty IS NULL OR %[1]s IS NULL THEN %[1]s ELSE greatest(%[1]s - %[2]s, 0) END", q, sub)
	if s.qtype != "" {
		reduced = fmt.Sprintf("CAST(%s AS %s)", reduced, s.qtype)
	}
	return fmt.Sprintf("WITH %s SELECT s.* REPLACE (%s AS %s), r.__label AS %s "+
		"FROM (SELECT COLUMNS(lambda c: lower(c) <> %s) FROM %s) AS s LEFT JOIN __res AS r ON r.__item = %s",
		s.decideSQL(), reduced, spec.QuoteIdent(s.c.Quantity), spec.QuoteIdent(FieldReserved),
		spec.QuoteString(FieldReserved), spec.QuoteIdent(s.stock), s.itemExpr("s"))
}

// reportSQL is the step's report: a note per reserved item and per open order line that reserves nothing.
func (s *Step) reportSQL(output string) string {
	field := s.c.CodeField
	if field == "" {
		field = s.c.GTINField
	}
	q := spec.QuoteIdent(s.c.Quantity)
	reserved := fmt.Sprintf("SELECT %s || r.__item AS subject, %s || ' reserved by open website orders the POS has not imported: ' || "+
		"r.__by || CASE WHEN b.__before IS NULL THEN '; the item has no quantity (unlimited): nothing is subtracted' "+
		"ELSE '; quantity ' || CAST(b.__before AS VARCHAR) || ' -> ' || CAST(a.__after AS VARCHAR) END AS message "+
		"FROM __res AS r LEFT JOIN (SELECT %s AS __item, max(s.%s) AS __before FROM %s AS s GROUP BY ALL) AS b ON b.__item = r.__item "+
		"LEFT JOIN (SELECT %s AS __item, max(s.%s) AS __after FROM %s AS s GROUP BY ALL) AS a ON a.__item = r.__item",
		spec.QuoteString(field+"="), number("r.__qty"), s.itemExpr("s"), q, spec.QuoteIdent(s.stock), s.itemExpr("s"), q, output)
	what := "concat_ws(', ', 'code \"' || l.__code || '\"', 'GTIN ' || l.__g1, 'GTIN ' || l.__g2)"
	unplaced := fmt.Sprintf("SELECT %s || l.__oid AS subject, 'line ' || l.__no || coalesce(' (' || nullif(%s, '') || ')', '') || ': ' || "+
		"CASE WHEN l.__items IS NULL THEN 'no stock item matches by ' || %s "+
		"ELSE 'several stock items match by ' || l.__how || ': ' || array_to_string(l.__items, ', ') END || "+
		"'; nothing is reserved for its ' || %s || ' unit(s)' AS message FROM __line AS l WHERE l.__item IS NULL",
		spec.QuoteString(order.ColOrderID+"="), what, spec.QuoteString(strings.Join(s.keys(), ", ")), number("l.__qty"))
	unreadable := fmt.Sprintf("SELECT %s || __oid AS subject, 'its lines are not a JSON array: nothing is reserved for it' AS message "+
		"FROM __open WHERE __json IS NULL", spec.QuoteString(order.ColOrderID+"="))
	return fmt.Sprintf("WITH %s SELECT %s AS kind, CAST(NULL AS TIMESTAMPTZ) AS \"at\", subject, message FROM (%s UNION ALL %s UNION ALL %s)",
		s.decideSQL(), spec.QuoteString(spec.NoteReservation), reserved, unplaced, unreadable)
}

// keys lists the line keys in use, in the order they are tried.
func (s *Step) keys() []string {
	var ks []string
	if s.c.CodeField != "" {
		ks = append(ks, "code")
	}
	if s.c.GTINField != "" {
		ks = append(ks, "gtin")
	}
	return ks
}

// itemExpr is the identity of a stock row of the relation aliased alias: its code, else (matching by GTIN
// only) its GTIN-14.
func (s *Step) itemExpr(alias string) string {
	if s.c.CodeField != "" {
		return text(alias + "." + spec.QuoteIdent(s.c.CodeField))
	}
	return gtin(alias + "." + spec.QuoteIdent(s.c.GTINField))
}

// decideSQL returns the CTEs that place each open order line on a stock item, ending with __line (one row
// per open line: __oid, __no, __code, __g1, __g2, __qty, __item when placed, else the candidates __items and
// the key __how that found them) and __res (per item: the reserved quantity __qty, the orders holding it
// __by and the annotation __label). __open holds the open orders (__json NULL when the lines are unreadable).
func (s *Step) decideSQL() string {
	var b strings.Builder
	// Optional columns of the orders relation (cancelled, web_status, imported) are NULL when it lacks them.
	fmt.Fprintf(&b, "__o AS (SELECT * FROM %s UNION ALL BY NAME SELECT NULL AS %s, NULL AS %s, NULL AS %s WHERE false)",
		spec.QuoteIdent(s.c.Orders), spec.QuoteIdent(order.ColCancelled), spec.QuoteIdent(order.ColWebStatus), spec.QuoteIdent(order.ColImported))
	released := make([]string, 0, len(s.c.ReleasedStatuses)+1)
	released = append(released, "'__none'")
	for _, r := range s.c.ReleasedStatuses {
		released = append(released, spec.QuoteString(strings.ToLower(strings.TrimSpace(r))))
	}
	fmt.Fprintf(&b, ", __open AS (SELECT CAST(%[1]s AS VARCHAR) AS __oid, CASE WHEN json_valid(CAST(%[2]s AS VARCHAR)) AND "+
		"json_type(CAST(%[2]s AS JSON)) = 'ARRAY' THEN CAST(%[2]s AS JSON) END AS __json FROM __o "+
		"WHERE %[1]s IS NOT NULL AND NOT coalesce(TRY_CAST(%[3]s AS BOOLEAN), false) AND NOT coalesce(TRY_CAST(%[4]s AS BOOLEAN), false) "+
		"AND coalesce(lower(trim(CAST(%[5]s AS VARCHAR))), '') NOT IN (%[6]s))",
		spec.QuoteIdent(order.ColOrderID), spec.QuoteIdent(order.ColLines), spec.QuoteIdent(order.ColCancelled),
		spec.QuoteIdent(order.ColImported), spec.QuoteIdent(order.ColWebStatus), strings.Join(released, ", "))
	b.WriteString(", __l AS (SELECT __oid, __i, json_extract(__json, CAST(__i AS BIGINT)) AS __line FROM " +
		"(SELECT __oid, __json, unnest(range(CAST(coalesce(json_array_length(__json), 0) AS BIGINT))) AS __i FROM __open WHERE __json IS NOT NULL))")
	fmt.Fprintf(&b, ", __lines AS (SELECT * FROM (SELECT __oid, __i, coalesce(TRY_CAST(__line->>'no' AS BIGINT), __i + 1) AS __no, "+
		"%s AS __code, %s AS __g1, %s AS __g2, TRY_CAST(__line->>'quantity' AS DOUBLE) AS __qty, "+
		"coalesce(TRY_CAST(__line->>'supplier_fulfilled' AS BOOLEAN), false) AS __supplier FROM __l) WHERE NOT __supplier AND __qty > 0)",
		text("__line->>'code'"), gtin("__line->>'gtin1'"), gtin("__line->>'gtin2'"))
	code, gt := "CAST(NULL AS VARCHAR)", "CAST(NULL AS VARCHAR)"
	if s.c.CodeField != "" {
		code = text("s." + spec.QuoteIdent(s.c.CodeField))
	}
	if s.c.GTINField != "" {
		gt = gtin("s." + spec.QuoteIdent(s.c.GTINField))
	}
	fmt.Fprintf(&b, ", __stock AS (SELECT DISTINCT %s AS __item, %s AS __code, %s AS __gtin FROM %s AS s)",
		s.itemExpr("s"), code, gt, spec.QuoteIdent(s.stock))
	var cands []string
	for rank, k := range s.keys() {
		on := "st.__code = l.__code"
		if k == "gtin" {
			on = "(st.__gtin = l.__g1 OR st.__gtin = l.__g2)"
		}
		cands = append(cands, fmt.Sprintf("SELECT l.__oid, l.__i, %d AS __rank, %s AS __how, st.__item FROM __lines AS l "+
			"JOIN __stock AS st ON %s WHERE st.__item IS NOT NULL", rank, spec.QuoteString(k), on))
	}
	fmt.Fprintf(&b, ", __cand AS (SELECT *, min(__rank) OVER (PARTITION BY __oid, __i) AS __best FROM (%s))", strings.Join(cands, " UNION ALL "))
	b.WriteString(", __chosen AS (SELECT __oid, __i, any_value(__how) AS __how, list_sort(list_distinct(list(__item))) AS __items " +
		"FROM __cand WHERE __rank = __best GROUP BY __oid, __i)")
	b.WriteString(", __line AS (SELECT l.*, CASE WHEN len(c.__items) = 1 THEN c.__items[1] END AS __item, c.__items, c.__how " +
		"FROM __lines AS l LEFT JOIN __chosen AS c ON c.__oid = l.__oid AND c.__i = l.__i)")
	fmt.Fprintf(&b, ", __res AS (SELECT __item, sum(__qty) AS __qty, string_agg(__oid || ' (' || %s || ')', ', ' ORDER BY __oid) AS __by, "+
		"%s || ': ' || string_agg(__oid || ' (' || %s || ')', ', ' ORDER BY __oid) AS __label "+
		"FROM (SELECT __item, __oid, sum(__qty) AS __qty FROM __line WHERE __item IS NOT NULL GROUP BY __item, __oid) GROUP BY __item)",
		number("__qty"), number("sum(__qty)"), number("__qty"))
	return b.String()
}

// number is the SQL text of a DOUBLE quantity x without a needless ".0".
func number(x string) string {
	return fmt.Sprintf("CASE WHEN %[1]s = trunc(%[1]s) THEN CAST(CAST(%[1]s AS BIGINT) AS VARCHAR) ELSE CAST(%[1]s AS VARCHAR) END", x)
}

// gtin is x compared as a GTIN-14: spaces removed, 8 to 14 digits left-padded with zeros (a UPC-A, its
// EAN-13 and its GTIN-14 are equal); any other value is NULL and never matches.
func gtin(x string) string {
	y := fmt.Sprintf("replace(trim(CAST(%s AS VARCHAR)), ' ', '')", x)
	return fmt.Sprintf("CASE WHEN regexp_full_match(%[1]s, '[0-9]{8,14}') THEN lpad(%[1]s, 14, '0') END", y)
}

// text is x trimmed, empty as NULL.
func text(x string) string { return fmt.Sprintf("nullif(trim(CAST(%s AS VARCHAR)), '')", x) }

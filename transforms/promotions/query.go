package promotions

import (
	"fmt"
	"strings"
	"time"

	"github.com/possync/possync/spec"
)

// The queries are generated on one line each: the runner maps a DuckDB error's LINE to the step's position in
// the pipeline file, so a single line keeps the reported line right. Internal names start with "__".

// ecommerceTrue are the (lowercased, trimmed) values of a text Ecommerce column that mean checked.
const ecommerceTrue = "'y', 'yes', 'true', 't', '1'"

// precedence orders one item's active promotions, winner first: earliest created (unknown last), then the
// lowest ID, integers numerically (by digit count, then digits, leading zeros aside) before other IDs as
// text; the sale price makes the order total when a promotion lists an item twice.
const precedence = "__created ASC NULLS LAST, __numeric DESC NULLS LAST, " +
	"CASE WHEN __numeric THEN length(ltrim(__id, '0')) END ASC, CASE WHEN __numeric THEN ltrim(__id, '0') END ASC, " +
	"__id ASC, __sale ASC"

// outputSQL is the step's query: the items with the winning promotion of the evaluation date applied.
func (s *Step) outputSQL() string {
	c := s.c
	price := "j." + spec.QuoteIdent(c.Price)
	var b strings.Builder
	fmt.Fprintf(&b, "WITH %s, __today AS (SELECT DATE %s AS __day), %s", s.promoRows(), spec.QuoteString(dateText(localDate(s.now, s.loc))),
		resolve("__now", "__today", ""))
	fmt.Fprintf(&b, ", __items AS (SELECT COLUMNS(lambda c: lower(c) NOT IN (%s)) FROM %s)", s.replacedFields(), spec.QuoteIdent(c.Items))
	fmt.Fprintf(&b, ", __joined AS (SELECT i.*, w.__id AS __promo_id, w.__name AS __promo_name, "+
		"w.__start AS __promo_start, w.__end AS __promo_end, w.__sale AS __promo_sale, l.__ids AS __promo_lost, "+
		"coalesce(w.__sale <= i.%[1]s, false) AS __promo_on FROM __items AS i "+
		"LEFT JOIN __now_win AS w ON w.__item = i.%[2]s LEFT JOIN __now_lost AS l ON l.__item = i.%[2]s)",
		spec.QuoteIdent(c.Price), spec.QuoteIdent(c.Key))
	fmt.Fprintf(&b, " SELECT j.* EXCLUDE (__promo_id, __promo_name, __promo_start, __promo_end, __promo_sale, "+
		"__promo_lost, __promo_on) REPLACE (CASE WHEN j.__promo_on THEN j.__promo_sale ELSE %s END AS %s)",
		price, spec.QuoteIdent(c.Price))
	if c.CompareTo != "" {
		fmt.Fprintf(&b, ", CASE WHEN j.__promo_on THEN %s END AS %s", price, spec.QuoteIdent(c.CompareTo))
	}
	fmt.Fprintf(&b, ", CASE WHEN j.__promo_on THEN j.__promo_sale END AS %s", spec.QuoteIdent(FieldSalePrice))
	fmt.Fprintf(&b, ", CASE WHEN j.__promo_on THEN j.__promo_start END AS %s", spec.QuoteIdent(FieldSaleStart))
	fmt.Fprintf(&b, ", CASE WHEN j.__promo_on THEN j.__promo_end END AS %s", spec.QuoteIdent(FieldSaleEnd))
	if c.Promoted != "" {
		fmt.Fprintf(&b, ", j.__promo_id IS NOT NULL AS %s", spec.QuoteIdent(c.Promoted))
	}
	fmt.Fprintf(&b, ", CASE WHEN j.__promo_on THEN %s END AS %s", label("j.__promo_id", "j.__promo_name"), spec.QuoteIdent(FieldWon))
	fmt.Fprintf(&b, ", CASE WHEN j.__promo_on THEN j.__promo_lost END AS %s FROM __joined AS j", spec.QuoteIdent(FieldLost))
	return b.String()
}

// reportSQL is the step's report: a note per item whose winning promotion's sale price is not applied, and
// the upcoming changes: each eCommerce promotion of a catalog item starting (at local midnight of its first
// day) or ending (at local midnight after its last day) within the horizon, with the item's effective price
// before and after.
func (s *Step) reportSQL() string {
	c := s.c
	ds := days(s.now, s.loc, c.Horizon)
	rows := make([]string, len(ds))
	for i, d := range ds {
		rows[i] = fmt.Sprintf("(DATE %s, TIMESTAMPTZ %s, %t)", spec.QuoteString(dateText(d.Date)),
			spec.QuoteString(d.Midnight.UTC().Format("2006-01-02 15:04:05+00")), d.Due)
	}
	subject := fmt.Sprintf("%s || CAST(%%s AS VARCHAR)", spec.QuoteString(c.Key+"="))
	var b strings.Builder
	fmt.Fprintf(&b, "WITH %s, __days(__day, __midnight, __due) AS (VALUES %s), "+
		"__today AS (SELECT __day FROM __days WHERE NOT __due), %s", s.promoRows(), strings.Join(rows, ", "),
		resolve("__now", "__today", ""))
	fmt.Fprintf(&b, ", __items AS (SELECT i.%s AS __item, i.%s AS __regular FROM %s AS i)",
		spec.QuoteIdent(c.Key), spec.QuoteIdent(c.Price), spec.QuoteIdent(c.Items))
	fmt.Fprintf(&b, ", __notes AS (SELECT "+spec.QuoteString(spec.NotePromotion)+" AS kind, CAST(NULL AS TIMESTAMPTZ) AS \"at\", %s AS subject, %s || CASE "+
		"WHEN w.__sale IS NULL THEN ' has no sale price for this item; not applied' "+
		"WHEN i.__regular IS NULL THEN ': sale price ' || %s || ' not applied: the item has no regular price' "+
		"ELSE ': sale price ' || %[3]s || ' is above the regular price ' || %[4]s || '; not applied' END AS message "+
		"FROM __items AS i JOIN __now_win AS w ON w.__item = i.__item WHERE NOT coalesce(w.__sale <= i.__regular, false))",
		fmt.Sprintf(subject, "i.__item"), "'promotion ' || "+label("w.__id", "w.__name"), money("w.__sale"),
		money("i.__regular"))
	b.WriteString(", __events AS (SELECT DISTINCT r.__item, r.__id, r.__name, r.__sale, d.__day, d.__midnight, " +
		"'starts' AS __kind FROM __promo_rows AS r JOIN __days AS d ON d.__due AND r.__start = d.__day " +
		"UNION SELECT r.__item, r.__id, r.__name, r.__sale, d.__day, d.__midnight, 'ends' " +
		"FROM __promo_rows AS r JOIN __days AS d ON d.__due AND r.__end + 1 = d.__day)")
	b.WriteString(", __event_items AS (SELECT DISTINCT e.__item FROM __events AS e JOIN __items AS i ON i.__item = e.__item), ")
	b.WriteString(resolve("__ev", "__days", "__event_items"))
	b.WriteString(", __prices AS (SELECT i.__item, d.__day, w.__id, w.__name, i.__regular, " +
		"CASE WHEN w.__sale <= i.__regular THEN w.__sale ELSE i.__regular END AS __price " +
		"FROM __items AS i JOIN __event_items AS e ON e.__item = i.__item CROSS JOIN __days AS d " +
		"LEFT JOIN __ev_win AS w ON w.__item = i.__item AND w.__day = d.__day)")
	fmt.Fprintf(&b, ", __upcoming AS (SELECT 'upcoming' AS kind, e.__midnight AS \"at\", %s AS subject, "+
		"'promotion ' || %s || ' ' || e.__kind || ': ' || CASE "+
		"WHEN e.__kind = 'ends' AND a.__price IS NOT DISTINCT FROM a.__regular AND bf.__price IS DISTINCT FROM a.__price "+
		"THEN 'price returns to ' || %s "+
		"WHEN bf.__price IS DISTINCT FROM a.__price THEN 'price ' || %[4]s || ' → ' || %[3]s "+
		"WHEN e.__kind = 'starts' AND a.__id <> e.__id THEN 'price stays ' || %[3]s || ' (promotion ' || %[5]s || ' takes precedence)' "+
		"WHEN e.__kind = 'starts' AND NOT coalesce(e.__sale <= a.__regular, false) "+
		"THEN 'price stays ' || %[3]s || ' (sale price ' || %[6]s || ' not applied)' "+
		"ELSE 'price stays ' || %[3]s END AS message "+
		"FROM __events AS e JOIN __prices AS a ON a.__item = e.__item AND a.__day = e.__day "+
		"JOIN __prices AS bf ON bf.__item = e.__item AND bf.__day = e.__day - 1)",
		fmt.Sprintf(subject, "e.__item"), label("e.__id", "e.__name"), money("a.__price"), money("bf.__price"),
		label("a.__id", "a.__name"), money("e.__sale"))
	b.WriteString(" SELECT kind, \"at\", subject, message FROM __notes UNION ALL SELECT kind, \"at\", subject, message " +
		"FROM __upcoming ORDER BY kind, \"at\", subject, message")
	return b.String()
}

// promoRows is the CTE __promo_rows: the eCommerce rows of the promotions relation, under internal names
// and types.
func (s *Step) promoRows() string {
	c := s.c
	col := func(name string) string { return "p." + spec.QuoteIdent(name) }
	name := "CAST(NULL AS VARCHAR)"
	if c.Columns.Name != "" {
		name = fmt.Sprintf("CAST(%s AS VARCHAR)", col(c.Columns.Name))
	}
	where := ""
	if c.Columns.Ecommerce != "" {
		where = fmt.Sprintf(" WHERE lower(trim(CAST(%s AS VARCHAR))) IN (%s)", col(c.Columns.Ecommerce), ecommerceTrue)
	}
	return fmt.Sprintf("__promo_rows AS (SELECT %s AS __item, CAST(%s AS VARCHAR) AS __id, %s AS __name, "+
		"CAST(%s AS TIMESTAMP) AS __created, CAST(%s AS DATE) AS __start, CAST(%s AS DATE) AS __end, "+
		"CAST(%s AS DOUBLE) AS __sale, regexp_full_match(CAST(%[2]s AS VARCHAR), '[0-9]+') AS __numeric "+
		"FROM %[8]s AS p%[9]s)",
		col(c.Key), col(c.Columns.ID), name, col(c.Columns.CreatedAt), col(c.Columns.Start), col(c.Columns.End),
		col(c.Columns.SalePrice), spec.QuoteIdent(c.Promotions), where)
}

// resolve returns the CTEs <prefix>_win (the winning promotion per day and item, among the rows of
// __promo_rows active on a day of the relation days) and <prefix>_lost (the other active promotions' ids, in
// precedence order). only, when set, names a relation of the items (__item) to resolve; else all.
func resolve(prefix, days, only string) string {
	filter := ""
	if only != "" {
		filter = fmt.Sprintf(" WHERE r.__item IN (SELECT __item FROM %s)", only)
	}
	return fmt.Sprintf("%[1]s_active AS (SELECT d.__day, r.* FROM %[2]s AS d JOIN __promo_rows AS r "+
		"ON r.__start <= d.__day AND d.__day <= r.__end%[3]s "+
		"QUALIFY row_number() OVER (PARTITION BY d.__day, r.__item, r.__id ORDER BY %[4]s) = 1), "+
		"%[1]s_ranked AS (SELECT *, row_number() OVER (PARTITION BY __day, __item ORDER BY %[4]s) AS __rank "+
		"FROM %[1]s_active), "+
		"%[1]s_win AS (SELECT * FROM %[1]s_ranked WHERE __rank = 1), "+
		"%[1]s_lost AS (SELECT __day, __item, string_agg(__id, ', ' ORDER BY __rank) AS __ids FROM %[1]s_ranked "+
		"WHERE __rank > 1 GROUP BY __day, __item)",
		prefix, days, filter, precedence)
}

// replacedFields lists, as SQL string literals, the lowercased names of the step's output fields that an
// items field of the same name gives way to.
func (s *Step) replacedFields() string {
	names := []string{FieldSalePrice, FieldSaleStart, FieldSaleEnd, FieldWon, FieldLost}
	for _, n := range []string{s.c.CompareTo, s.c.Promoted} {
		if n != "" {
			names = append(names, n)
		}
	}
	for i, n := range names {
		names[i] = spec.QuoteString(strings.ToLower(n))
	}
	return strings.Join(names, ", ")
}

// label is the SQL text "id (name)", or "id" when the name is NULL or empty.
func label(id, name string) string {
	return fmt.Sprintf("%s || coalesce(' (' || nullif(%s, '') || ')', '')", id, name)
}

// money formats a price with two decimals ("none" for NULL).
func money(x string) string { return fmt.Sprintf("coalesce(printf('%%.2f', %s), 'none')", x) }

func dateText(t time.Time) string { return t.Format(time.DateOnly) }

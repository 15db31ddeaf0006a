package ordermatch

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/possync/possync/connectors/order"
	"github.com/possync/possync/spec"
)

// The queries are generated on one line each (the runner maps a DuckDB error's LINE to the step's position in
// the pipeline file). Internal names start with "__".

// placeholderLocals and placeholderDomains make an email a placeholder: a website that requires an email
// gets these from customers who have none, and they must never match a POS customer.
var (
	placeholderLocals = []string{"noemail", "no-email", "no_email", "no.email", "none", "nomail", "no-mail", "noreply",
		"no-reply", "donotreply", "do-not-reply", "na", "n/a", "null", "nil", "unknown", "test", "email", "customer", "x"}
	placeholderDomains = []string{"example.com", "example.org", "example.net", "noemail.com", "nomail.com", "none.com",
		"test.com", "invalid", "localhost", "email.invalid"}
)

// outputSQL is the step's query: the New orders, with pos_customer_id, outlet, import_status and their
// lines' product_id.
func (s *Step) outputSQL() string {
	outs := []string{FieldPOSCustomerID, FieldOutlet, FieldImportStatus}
	quoted := make([]string, len(outs))
	for i, o := range outs {
		quoted[i] = spec.QuoteString(o)
	}
	return fmt.Sprintf("WITH %s SELECT o.* REPLACE (d.__lines AS %s), d.__pcid AS %s, d.__outlet AS %s, d.__status AS %s "+
		"FROM (SELECT COLUMNS(lambda c: lower(c) NOT IN (%s)) FROM %s) AS o JOIN __decided AS d ON d.__oid = CAST(o.%s AS VARCHAR) "+
		"WHERE d.__status = %s",
		s.decideSQL(), spec.QuoteIdent(order.ColLines), spec.QuoteIdent(FieldPOSCustomerID), spec.QuoteIdent(FieldOutlet),
		spec.QuoteIdent(FieldImportStatus), strings.Join(quoted, ", "), spec.QuoteIdent(s.c.Orders),
		spec.QuoteIdent(order.ColOrderID), spec.QuoteString(order.StatusNew))
}

// reportSQL is the step's report: a note per order held back, naming its status and what would fix it.
func (s *Step) reportSQL() string {
	return fmt.Sprintf("WITH %s SELECT %s AS kind, CAST(NULL AS TIMESTAMPTZ) AS \"at\", %s || d.__oid AS subject, "+
		"d.__status || ': ' || d.__why AS message FROM __decided AS d WHERE d.__status <> %s ORDER BY d.__oid",
		s.decideSQL(), spec.QuoteString(spec.NoteHeldOrder), spec.QuoteString(order.ColOrderID+"="), spec.QuoteString(order.StatusNew))
}

// decideSQL returns the CTEs that decide each order, ending with __decided: one row per order (__oid) with
// its POS customer (__pcid), outlet (__outlet), status (__status), rewritten lines (__lines) and, for an
// order held back, why and what would fix it (__why).
func (s *Step) decideSQL() string {
	var b strings.Builder
	s.productsSQL(&b)
	b.WriteString(", ")
	s.linesSQL(&b)
	b.WriteString(", ")
	s.customersSQL(&b)
	b.WriteString(", ")
	s.routingSQL(&b)
	col := func(name string) string { return "o." + spec.QuoteIdent(name) }
	fmt.Fprintf(&b, ", __ord AS (SELECT CAST(%s AS VARCHAR) AS __oid, CAST(%s AS VARCHAR) AS __wcid, "+
		"nullif(lower(trim(CAST(%s AS VARCHAR))), '') AS __email, "+
		"coalesce(CAST(%s AS BOOLEAN), false) OR lower(trim(CAST(%s AS VARCHAR))) IN ('cancelled', 'canceled') AS __cancelled, "+
		"CAST(%s AS VARCHAR) AS __web_status, lower(trim(CAST(%s AS VARCHAR))) = %s AS __pickup, "+
		"nullif(trim(CAST(%s AS VARCHAR)), '') AS __pickup_at FROM %s AS o)",
		col(order.ColOrderID), col(order.ColCustomerID), col(order.ColEmail), col(order.ColCancelled), col(order.ColWebStatus),
		col(order.ColWebStatus), col(order.ColFulfilment), spec.QuoteString(order.FulfilPickup), col(order.ColPickupLocation),
		spec.QuoteIdent(s.c.Orders))
	// The customer: email, else previously matched, else a manual mapping.
	// Every join is on equality alone: a condition on one side in a LEFT JOIN's ON makes DuckDB compare
	// every row with every row.
	b.WriteString(", __ord_ok AS (SELECT *, " + validEmail("__email", s.c.PlaceholderEmails) + " AS __email_ok FROM __ord)")
	b.WriteString(", __cust_decided AS (SELECT o.*, " +
		"e.__ids AS __email_ids, v.__ids AS __prev_ids, coalesce(m1.__pcid, m2.__pcid) AS __manual_pcid " +
		"FROM __ord_ok AS o LEFT JOIN __by_email AS e ON e.__email = CASE WHEN o.__email_ok THEN o.__email END " +
		"LEFT JOIN __prev AS v ON v.__wcid = o.__wcid " +
		"LEFT JOIN __manual AS m1 ON m1.__key = o.__wcid LEFT JOIN __manual AS m2 ON m2.__key = o.__email)")
	fmt.Fprintf(&b, ", __cust AS (SELECT *, CASE WHEN len(__email_ids) = 1 THEN __email_ids[1] "+
		"WHEN len(__prev_ids) = 1 THEN __prev_ids[1] ELSE __manual_pcid END AS __pcid FROM __cust_decided)")
	custWhy := "CASE WHEN c.__email IS NULL THEN 'the order has no email' " +
		"WHEN NOT c.__email_ok THEN 'email \"' || c.__email || '\" is a placeholder' " +
		"WHEN len(c.__email_ids) > 1 THEN 'several POS customers have email \"' || c.__email || '\": ' || array_to_string(c.__email_ids, ', ') " +
		"ELSE 'no POS customer has email \"' || c.__email || '\"' END || " +
		"CASE WHEN len(c.__prev_ids) > 1 THEN ', and website customer ' || c.__wcid || ' was matched to several POS customers before: ' || " +
		"array_to_string(c.__prev_ids, ', ') ELSE '' END || " +
		"'; add the customer to the POS with this email, or map ' || coalesce('website customer ' || c.__wcid, 'the email') || " +
		"' to a POS customer id in customer_mappings, or set create_customers: true'"
	fmt.Fprintf(&b, ", __decided AS (SELECT c.__oid, c.__pcid, CASE WHEN c.__pickup THEN pk.__outlet ELSE %s END AS __outlet, "+
		"CASE WHEN c.__cancelled THEN %s WHEN c.__pcid IS NULL AND NOT %s THEN %s "+
		"WHEN l.__oid IS NULL OR l.__failed > 0 THEN %s WHEN c.__pickup AND pk.__outlet IS NULL THEN %s ELSE %s END AS __status, "+
		"CAST(l.__lines AS VARCHAR) AS __lines, "+
		"CASE WHEN c.__cancelled THEN 'the website cancelled it' || coalesce(' (status \"' || c.__web_status || '\")', '') || "+
		"'; it is not imported' ELSE concat_ws('; ', "+
		"CASE WHEN c.__pcid IS NULL AND NOT %[3]s THEN %[8]s END, "+
		"CASE WHEN l.__oid IS NULL THEN 'the order has no lines' END, "+
		"CASE WHEN l.__failed > 0 THEN array_to_string(l.__problems, '; ') || '; fix the product codes in the POS or on the website' END, "+
		"CASE WHEN c.__pickup AND pk.__outlet IS NULL THEN 'pickup location ' || coalesce('\"' || c.__pickup_at || '\"', '(none)') || "+
		"' is not in routing.pickups' || %[9]s || '; add it there with its POS outlet' END) END AS __why "+
		"FROM __cust AS c LEFT JOIN __line_agg AS l ON l.__oid = c.__oid "+
		"LEFT JOIN __pickups AS pk ON pk.__name = lower(c.__pickup_at))",
		nullable(s.c.Routing.Primary), spec.QuoteString(StatusCancelled), boolSQL(s.c.CreateCustomers),
		spec.QuoteString(order.StatusCustomerIDNeeded), spec.QuoteString(order.StatusProductMatchFailed),
		spec.QuoteString(StatusUnknownPickup), spec.QuoteString(order.StatusNew), custWhy, s.knownPickups())
	return b.String()
}

// productsSQL writes __prod(__pid, __sku, __gtin, __mpn, __brand, __label): the POS products a line may
// match, deleted ones left out.
func (s *Step) productsSQL(b *strings.Builder) {
	pc := s.c.Columns.Products
	where := fmt.Sprintf("p.%s IS NOT NULL", spec.QuoteIdent(pc.ID))
	if pc.Deleted != "" {
		where += fmt.Sprintf(" AND NOT coalesce(CAST(p.%s AS BOOLEAN), false)", spec.QuoteIdent(pc.Deleted))
	}
	fmt.Fprintf(b, "__prod AS MATERIALIZED (SELECT *, coalesce(__sku, '(no SKU)') || ' [id ' || __pid || ']' AS __label "+
		"FROM (SELECT CAST(p.%s AS VARCHAR) AS __pid, %s AS __sku, %s AS __gtin, %s AS __mpn, %s AS __brand FROM %s AS p WHERE %s))",
		spec.QuoteIdent(pc.ID), text("p."+quoteOrEmpty(pc.SKU), pc.SKU == ""), gtin("p."+quoteOrEmpty(pc.GTIN), pc.GTIN == ""),
		text("p."+quoteOrEmpty(pc.MPN), pc.MPN == ""), lowerText("p."+quoteOrEmpty(pc.Brand), pc.Brand == ""),
		spec.QuoteIdent(s.c.Products), where)
}

// linesSQL writes __line(__oid, __i, __no, __line, __pid, __problem), one row per order line with the POS
// product it matched or why none, and __line_agg(__oid, __lines, __failed, __problems) per order.
func (s *Step) linesSQL(b *strings.Builder) {
	fmt.Fprintf(b, "__l AS (SELECT __oid, __i, json_extract(__json, CAST(__i AS BIGINT)) AS __line FROM "+
		"(SELECT CAST(o.%s AS VARCHAR) AS __oid, CAST(o.%s AS JSON) AS __json, "+
		"unnest(range(CAST(coalesce(json_array_length(CAST(o.%[2]s AS JSON)), 0) AS BIGINT))) AS __i FROM %s AS o))",
		spec.QuoteIdent(order.ColOrderID), spec.QuoteIdent(order.ColLines), spec.QuoteIdent(s.c.Orders))
	b.WriteString(", __lk AS MATERIALIZED (SELECT __oid, __i, __line, coalesce(TRY_CAST(__line->>'no' AS BIGINT), __i + 1) AS __no, " +
		"nullif(trim(__line->>'code'), '') AS __code, " + gtin("__line->>'gtin1'", false) + " AS __g1, " +
		gtin("__line->>'gtin2'", false) + " AS __g2, nullif(trim(__line->>'mpn'), '') AS __mpn, " +
		lowerText("__line->>'brand'", false) + " AS __brand FROM __l)")
	// Each key is an equi-join (an OR in a join condition would compare every line with every product).
	var cands []string
	for rank, by := range s.c.ProductsBy {
		var ons []string
		switch by {
		case ByCode:
			ons = []string{"p.__sku = l.__code"}
		case ByGTIN:
			ons = []string{"p.__gtin = l.__g1", "p.__gtin = l.__g2"}
		case ByMPNBrand:
			ons = []string{"p.__mpn = l.__mpn AND p.__brand = l.__brand"}
		}
		for _, on := range ons {
			cands = append(cands, fmt.Sprintf("SELECT l.__oid, l.__i, %d AS __rank, %s AS __how, p.__pid, p.__label "+
				"FROM __lk AS l JOIN __prod AS p ON %s", rank, spec.QuoteString(by), on))
		}
	}
	fmt.Fprintf(b, ", __cand AS (SELECT *, min(__rank) OVER (PARTITION BY __oid, __i) AS __best FROM (%s))",
		strings.Join(cands, " UNION ALL "))
	b.WriteString(", __chosen AS (SELECT __oid, __i, any_value(__how) AS __how, list_sort(list_distinct(list(__pid))) AS __ids, " +
		"list_sort(list_distinct(list(__label))) AS __labels FROM __cand WHERE __rank = __best GROUP BY __oid, __i)")
	what := "concat_ws(', ', 'code \"' || l.__code || '\"', 'GTIN ' || l.__g1, 'GTIN ' || l.__g2, " +
		"'MPN \"' || l.__mpn || '\"' || coalesce(' brand \"' || l.__brand || '\"', ''))"
	fmt.Fprintf(b, ", __line AS (SELECT l.__oid, l.__i, l.__no, l.__line, CASE WHEN len(c.__ids) = 1 THEN c.__ids[1] END AS __pid, "+
		"CASE WHEN c.__ids IS NULL THEN 'line ' || l.__no || coalesce(' (' || nullif(%[1]s, '') || ')', '') || "+
		"': no POS product matches by ' || %[2]s "+
		"WHEN len(c.__ids) > 1 THEN 'line ' || l.__no || coalesce(' (' || nullif(%[1]s, '') || ')', '') || "+
		"': several POS products match by ' || c.__how || ': ' || array_to_string(c.__labels, ', ') END AS __problem "+
		"FROM __lk AS l LEFT JOIN __chosen AS c ON c.__oid = l.__oid AND c.__i = l.__i)",
		what, spec.QuoteString(strings.Join(s.c.ProductsBy, ", ")))
	b.WriteString(", __line_agg AS (SELECT __oid, to_json(list(json_merge_patch(__line, json_object('product_id', __pid, 'match', __problem)) " +
		"ORDER BY __i)) AS __lines, count(*) FILTER (WHERE __problem IS NOT NULL) AS __failed, " +
		"list(__problem ORDER BY __i) FILTER (WHERE __problem IS NOT NULL) AS __problems FROM __line GROUP BY __oid)")
}

// customersSQL writes __by_email(__email, __ids), __prev(__wcid, __ids) and __manual(__key, __pcid).
func (s *Step) customersSQL(b *strings.Builder) {
	cc := s.c.Columns.Customers
	fmt.Fprintf(b, "__by_email AS (SELECT __email, list_sort(list_distinct(list(__cid))) AS __ids FROM "+
		"(SELECT CAST(c.%[1]s AS VARCHAR) AS __cid, nullif(lower(trim(CAST(c.%[2]s AS VARCHAR))), '') AS __email FROM %[3]s AS c "+
		"WHERE c.%[1]s IS NOT NULL) WHERE %[4]s GROUP BY __email)",
		spec.QuoteIdent(cc.ID), spec.QuoteIdent(cc.Email), spec.QuoteIdent(s.c.Customers), validEmail("__email", s.c.PlaceholderEmails))
	if s.c.Previous == "" {
		b.WriteString(", __prev AS (SELECT CAST(NULL AS VARCHAR) AS __wcid, CAST(NULL AS VARCHAR[]) AS __ids WHERE false)")
	} else {
		fmt.Fprintf(b, ", __prev AS (SELECT __wcid, list_sort(list_distinct(list(__pcid))) AS __ids FROM "+
			"(SELECT CAST(v.%s AS VARCHAR) AS __wcid, nullif(trim(CAST(v.%s AS VARCHAR)), '') AS __pcid FROM %s AS v) "+
			"WHERE __wcid IS NOT NULL AND __pcid IS NOT NULL GROUP BY __wcid)",
			spec.QuoteIdent(order.ColCustomerID), spec.QuoteIdent(FieldPOSCustomerID), spec.QuoteIdent(s.c.Previous))
	}
	if len(s.c.CustomerMappings) == 0 {
		b.WriteString(", __manual AS (SELECT CAST(NULL AS VARCHAR) AS __key, CAST(NULL AS VARCHAR) AS __pcid WHERE false)")
		return
	}
	keys := make([]string, 0, len(s.c.CustomerMappings))
	for k := range s.c.CustomerMappings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rows := make([]string, len(keys))
	for i, k := range keys {
		key := strings.TrimSpace(k)
		if strings.Contains(key, "@") {
			key = strings.ToLower(key)
		}
		rows[i] = fmt.Sprintf("(%s, %s)", spec.QuoteString(key), spec.QuoteString(strings.TrimSpace(s.c.CustomerMappings[k])))
	}
	fmt.Fprintf(b, ", __manual AS (SELECT CAST(v.a AS VARCHAR) AS __key, CAST(v.b AS VARCHAR) AS __pcid FROM (VALUES %s) AS v(a, b))",
		strings.Join(rows, ", "))
}

// routingSQL writes __pickups(__name, __outlet): the website pickup locations (lower case) and their outlets.
func (s *Step) routingSQL(b *strings.Builder) {
	if len(s.c.Routing.Pickups) == 0 {
		b.WriteString("__pickups AS (SELECT CAST(NULL AS VARCHAR) AS __name, CAST(NULL AS VARCHAR) AS __outlet WHERE false)")
		return
	}
	names := s.pickupNames()
	rows := make([]string, len(names))
	for i, n := range names {
		rows[i] = fmt.Sprintf("(%s, %s)", spec.QuoteString(strings.ToLower(strings.TrimSpace(n))),
			spec.QuoteString(strings.TrimSpace(s.c.Routing.Pickups[n])))
	}
	fmt.Fprintf(b, "__pickups AS (SELECT CAST(v.a AS VARCHAR) AS __name, CAST(v.b AS VARCHAR) AS __outlet FROM (VALUES %s) AS v(a, b))",
		strings.Join(rows, ", "))
}

// pickupNames returns the configured website pickup location names, sorted.
func (s *Step) pickupNames() []string {
	names := make([]string, 0, len(s.c.Routing.Pickups))
	for n := range s.c.Routing.Pickups {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// knownPickups is the SQL text listing the configured pickup locations for a note, e.g. ` (it has "Downtown")`.
func (s *Step) knownPickups() string {
	names := s.pickupNames()
	if len(names) == 0 {
		return spec.QuoteString(" (it is empty)")
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = `"` + strings.TrimSpace(n) + `"`
	}
	return spec.QuoteString(" (it has " + strings.Join(q, ", ") + ")")
}

// validEmail is the SQL condition that x (a trimmed, lower-case email or NULL) is a real address: an address
// shape, and neither a known placeholder (local part or domain) nor one of the configured placeholders
// (whole addresses, or "@domain").
func validEmail(x string, extra []string) string {
	cond := fmt.Sprintf("coalesce(regexp_full_match(%[1]s, '[^@\\s]+@[^@\\s]+\\.[^@\\s]+') AND split_part(%[1]s, '@', 1) NOT IN (%[2]s) "+
		"AND split_part(%[1]s, '@', 2) NOT IN (%[3]s)", x, stringList(placeholderLocals), stringList(placeholderDomains))
	var whole, domains []string
	for _, e := range extra {
		e = strings.ToLower(strings.TrimSpace(e))
		switch {
		case e == "":
		case strings.HasPrefix(e, "@"):
			domains = append(domains, strings.TrimPrefix(e, "@"))
		default:
			whole = append(whole, e)
		}
	}
	if len(whole) > 0 {
		cond += fmt.Sprintf(" AND %s NOT IN (%s)", x, stringList(whole))
	}
	if len(domains) > 0 {
		cond += fmt.Sprintf(" AND split_part(%s, '@', 2) NOT IN (%s)", x, stringList(domains))
	}
	return cond + ", false)"
}

func stringList(ss []string) string {
	ss = slices.Clone(ss)
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = spec.QuoteString(s)
	}
	return strings.Join(q, ", ")
}

// gtin is x compared as a GTIN-14: spaces removed, 8 to 14 digits left-padded with zeros (a UPC-A, its
// EAN-13 and its GTIN-14 are equal); any other value is NULL and never matches. off gives NULL.
func gtin(x string, off bool) string {
	if off {
		return "CAST(NULL AS VARCHAR)"
	}
	y := fmt.Sprintf("replace(trim(CAST(%s AS VARCHAR)), ' ', '')", x)
	return fmt.Sprintf("CASE WHEN regexp_full_match(%[1]s, '[0-9]{8,14}') THEN lpad(%[1]s, 14, '0') END", y)
}

// text is x trimmed, empty as NULL; off gives NULL.
func text(x string, off bool) string {
	if off {
		return "CAST(NULL AS VARCHAR)"
	}
	return fmt.Sprintf("nullif(trim(CAST(%s AS VARCHAR)), '')", x)
}

// lowerText is text in lower case (brands compare case-insensitively).
func lowerText(x string, off bool) string {
	if off {
		return "CAST(NULL AS VARCHAR)"
	}
	return fmt.Sprintf("nullif(lower(trim(CAST(%s AS VARCHAR))), '')", x)
}

func quoteOrEmpty(name string) string {
	if name == "" {
		return ""
	}
	return spec.QuoteIdent(name)
}

func nullable(s string) string {
	if strings.TrimSpace(s) == "" {
		return "CAST(NULL AS VARCHAR)"
	}
	return spec.QuoteString(strings.TrimSpace(s))
}

func boolSQL(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

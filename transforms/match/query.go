package match

import (
	"fmt"
	"strings"

	"github.com/possync/possync/spec"
)

// The queries are generated on one line each: the runner maps a DuckDB error's LINE to the step's position in
// the pipeline file, so a single line keeps the reported line right. Internal names start with "__".

// rules lists the values of __rule, the first rule that applies to an item before website products are
// shared out. Those that are also match values keep their name; the others are kinds of pending.
const (
	ruleManualUnknown   = "manual_unknown"    // mapped by hand to a website SKU the products lack
	ruleGTINSeveral     = "gtin_several"      // several website products have the GTIN
	ruleMPNBrandSeveral = "mpn_brand_several" // several website products have the MPN and brand
	ruleMPNOnly         = "mpn_only"          // website products have the MPN, none with the item's brand
	ruleClaimed         = "claimed"           // the website product went to another item, or to none of several
)

// outputSQL is the step's query: the items with website_sku and match.
func (s *Step) outputSQL() string {
	key := s.c.Columns.Items.Key
	return fmt.Sprintf("WITH %s, __items AS (SELECT COLUMNS(lambda c: lower(c) NOT IN (%s, %s)) FROM %s) "+
		"SELECT i.*, d.__web AS %s, coalesce(d.__match, %s) AS %s FROM __items AS i "+
		"LEFT JOIN __decided AS d ON d.__item = CAST(i.%s AS VARCHAR)",
		s.decideSQL(), spec.QuoteString(FieldWebsiteSKU), spec.QuoteString(FieldMatch), spec.QuoteIdent(s.c.Items),
		spec.QuoteIdent(FieldWebsiteSKU), spec.QuoteString(MatchUnmatched), spec.QuoteIdent(FieldMatch), spec.QuoteIdent(key))
}

// reportSQL is the step's report: a note per pending item, saying why and naming the candidates, and a note
// per ambiguous GTIN some item could not be mapped for. The lists it names are aggregated for those items
// only (__cands, __claimants, the ambiguous GTINs' items), so that deciding every item takes no list.
func (s *Step) reportSQL() string {
	subject := func(field, value string) string {
		return fmt.Sprintf("%s || %s", spec.QuoteString(field+"="), value)
	}
	const decide = "'; decide in the mappings file'"
	// __cands: the candidate website SKUs of an item pending for several GTIN or MPN and brand matches, or
	// for an MPN without its brand (those items have no website SKU, so no claim changed their rule).
	cands := fmt.Sprintf(", __cands AS (SELECT __item, list(__cand ORDER BY __sku) AS __cands FROM ("+
		"SELECT d.__item, p.__sku, p.__sku AS __cand FROM __decided AS d JOIN __prod AS p ON p.__gtin = d.__gtin WHERE d.__rule = '%[1]s' "+
		"UNION ALL SELECT d.__item, p.__sku, p.__sku FROM __decided AS d JOIN __prod AS p ON p.__mpn = d.__mpn AND p.__brand = d.__brand "+
		"WHERE d.__rule = '%[2]s' "+
		"UNION ALL SELECT d.__item, p.__sku, p.__sku || coalesce(' (brand \"' || p.__brand || '\")', ' (no brand)') "+
		"FROM __decided AS d JOIN __prod AS p ON p.__mpn = d.__mpn WHERE d.__rule = '%[3]s') GROUP BY __item)",
		ruleGTINSeveral, ruleMPNBrandSeveral, ruleMPNOnly)
	// __claimants: for a website SKU several items claim, the claimants "sku (rule)", strongest first.
	claimants := fmt.Sprintf(", __claimants AS (SELECT f.__web, list(f.__item || ' (' || f.__rule || ')' ORDER BY f.__rank, f.__item) AS __by "+
		"FROM __first AS f WHERE f.__web IN (SELECT __claimed_sku FROM __decided WHERE __rule = '%s') GROUP BY f.__web)", ruleClaimed)
	pending := fmt.Sprintf("SELECT %[1]s AS subject, 'pending mapping: ' || CASE d.__rule "+
		"WHEN '%[2]s' THEN 'the mappings file maps it to website SKU ' || %[3]s || ', which the website does not have' "+
		"WHEN '%[4]s' THEN 'GTIN ' || d.__gtin || ' matches several website products: ' || %[5]s "+
		"WHEN '%[6]s' THEN 'MPN ' || %[7]s || ' and brand ' || %[8]s || ' match several website products: ' || %[5]s "+
		"WHEN '%[9]s' THEN 'MPN ' || %[7]s || ' matches website products ' || %[5]s || ' but ' || "+
		"coalesce('brand ' || %[8]s || ' matches none of them', 'the item has no brand') "+
		"WHEN '%[10]s' THEN 'website SKU ' || %[3]s || ' matches several POS SKUs: ' || array_to_string(c.__by, ', ') || "+
		"CASE WHEN d.__kept THEN '; it stays mapped to ' || c.__by[1] ELSE '; none of them is mapped' END "+
		"END || %[11]s AS message FROM __decided AS d LEFT JOIN __cands AS k ON k.__item = d.__item "+
		"LEFT JOIN __claimants AS c ON c.__web = d.__claimed_sku WHERE d.__match = '%[12]s'",
		subject(s.c.Columns.Items.Key, "d.__item"), ruleManualUnknown, quoted("d.__claimed_sku"), ruleGTINSeveral,
		"array_to_string(k.__cands, ', ')", ruleMPNBrandSeveral, quoted("d.__mpn"), quoted("d.__brand"), ruleMPNOnly,
		ruleClaimed, decide, MatchPending)
	gtinField := s.c.Columns.Items.GTIN
	if gtinField == "" {
		gtinField = "gtin"
	}
	ambiguous := fmt.Sprintf("SELECT %s AS subject, 'the POS has this GTIN on several SKUs (' || "+
		"array_to_string(list(d.__item ORDER BY d.__item), ', ') || '): none of them is mapped; fix the UPCs in the POS, "+
		"or decide in the mappings file' AS message FROM __decided AS d WHERE d.__gtin IN (SELECT __gtin FROM __shared) "+
		"GROUP BY d.__gtin HAVING bool_or(d.__match = '%s')",
		subject(gtinField, "d.__gtin"), MatchAmbiguousGTIN)
	return fmt.Sprintf("WITH %s%s%s SELECT %s AS kind, CAST(NULL AS TIMESTAMPTZ) AS \"at\", subject, message "+
		"FROM (%s UNION ALL %s)", s.decideSQL(), cands, claimants, spec.QuoteString(spec.NotePendingMapping), pending, ambiguous)
}

// decideSQL returns the CTEs that decide each item's website SKU, ending with __decided: one row per item
// key (__item) with __web, __match, __rule, the item's __gtin, __mpn and __brand, and for a website product
// several items claim, or a manual website SKU the products lack: __claimed_sku, and __kept (whether the
// strongest claimant keeps it). __shared holds the ambiguous GTINs, __prod the website products and __first
// each item's rule before website products are shared out.
//
// Every step is a hash aggregate or a hash join over values of fixed width, or a window, all of which DuckDB
// spills to disk past its memory limit: no list is aggregated (the candidates' lists are the report's, for
// pending items only), and the first row of an item key listed twice is picked by a window (row_number),
// not DISTINCT ON (a sorted aggregate per key, which holds every group in memory).
func (s *Step) decideSQL() string {
	ic, pc := s.c.Columns.Items, s.c.Columns.Products
	flag := "false"
	if ic.Ambiguous != "" {
		flag = fmt.Sprintf("coalesce(CAST(i.%s AS BOOLEAN), false)", spec.QuoteIdent(ic.Ambiguous))
	}
	var b strings.Builder
	b.WriteString(s.manualSQL())
	fmt.Fprintf(&b, ", __prod AS (SELECT DISTINCT CAST(p.%s AS VARCHAR) AS __sku, %s AS __gtin, %s AS __mpn, %s AS __brand "+
		"FROM %s AS p WHERE p.%[1]s IS NOT NULL)",
		spec.QuoteIdent(pc.SKU), gtin("p", pc.GTIN), text("p", pc.MPN), text("p", pc.Brand), spec.QuoteIdent(s.c.Products))
	fmt.Fprintf(&b, ", __src AS (SELECT __item, __gtin, __mpn, __brand, __flag FROM (SELECT CAST(i.%s AS VARCHAR) AS __item, %s AS __gtin, "+
		"%s AS __mpn, %s AS __brand, %s AS __flag FROM %s AS i) WHERE __item IS NOT NULL "+
		"QUALIFY row_number() OVER (PARTITION BY __item ORDER BY __flag DESC, __gtin, __mpn, __brand) = 1)",
		spec.QuoteIdent(ic.Key), gtin("i", ic.GTIN), text("i", ic.MPN), text("i", ic.Brand), flag, spec.QuoteIdent(s.c.Items))
	b.WriteString(", __shared AS (SELECT __gtin FROM __src WHERE __gtin IS NOT NULL GROUP BY __gtin " +
		"HAVING count(*) > 1 OR bool_or(__flag))")
	// Per GTIN, and per MPN and brand: how many website products, and the first SKU (the one, when alone).
	b.WriteString(", __by_gtin AS (SELECT __gtin, count(*) AS __n, min(__sku) AS __sku FROM __prod WHERE __gtin IS NOT NULL GROUP BY __gtin)")
	b.WriteString(", __by_mpn_brand AS (SELECT __mpn, __brand, count(*) AS __n, min(__sku) AS __sku FROM __prod " +
		"WHERE __mpn IS NOT NULL AND __brand IS NOT NULL GROUP BY __mpn, __brand)")
	b.WriteString(", __by_mpn AS (SELECT DISTINCT __mpn FROM __prod WHERE __mpn IS NOT NULL)")
	fmt.Fprintf(&b, ", __ruled AS (SELECT s.*, m.__web AS __manual_web, g.__sku AS __gtin_sku, e.__sku AS __mb_sku, CASE "+
		"WHEN m.__pos IS NOT NULL THEN CASE WHEN m.__web IS NULL OR m.__web IN (SELECT __sku FROM __prod) THEN '%s' ELSE '%s' END "+
		"WHEN s.__gtin IN (SELECT __gtin FROM __shared) OR s.__flag THEN '%s' "+
		"WHEN g.__n = 1 THEN '%s' WHEN g.__n > 1 THEN '%s' "+
		"WHEN e.__n = 1 THEN '%s' WHEN e.__n > 1 THEN '%s' "+
		"WHEN a.__mpn IS NOT NULL THEN '%s' ELSE '%s' END AS __rule "+
		"FROM __src AS s LEFT JOIN __manual AS m ON m.__pos = s.__item LEFT JOIN __by_gtin AS g ON g.__gtin = s.__gtin "+
		"LEFT JOIN __by_mpn_brand AS e ON e.__mpn = s.__mpn AND e.__brand = s.__brand LEFT JOIN __by_mpn AS a ON a.__mpn = s.__mpn)",
		MatchManual, ruleManualUnknown, MatchAmbiguousGTIN, MatchGTIN, ruleGTINSeveral, MatchMPNBrand, ruleMPNBrandSeveral,
		ruleMPNOnly, MatchUnmatched)
	fmt.Fprintf(&b, ", __first AS (SELECT __item, __gtin, __mpn, __brand, __rule, "+
		"CASE __rule WHEN '%[1]s' THEN __manual_web WHEN '%[2]s' THEN __gtin_sku WHEN '%[3]s' THEN __mb_sku END AS __web, "+
		"CASE __rule WHEN '%[1]s' THEN 1 WHEN '%[2]s' THEN 2 WHEN '%[3]s' THEN 3 END AS __rank, "+
		"CASE WHEN __rule = '%[4]s' THEN __manual_web END AS __unknown_web FROM __ruled)",
		MatchManual, MatchGTIN, MatchMPNBrand, ruleManualUnknown)
	b.WriteString(", __peers AS (SELECT __web, __rank, count(*) AS __n FROM __first WHERE __web IS NOT NULL GROUP BY __web, __rank)")
	b.WriteString(", __claims AS (SELECT __web, min(__rank) AS __best FROM __first WHERE __web IS NOT NULL GROUP BY __web HAVING count(*) > 1)")
	fmt.Fprintf(&b, ", __decided AS (SELECT f.__item, f.__gtin, f.__mpn, f.__brand, "+
		"CASE WHEN c.__web IS NULL OR (f.__rank = c.__best AND p.__n = 1) THEN f.__web END AS __web, "+
		"CASE WHEN c.__web IS NOT NULL AND NOT (f.__rank = c.__best AND p.__n = 1) THEN '%[1]s' "+
		"WHEN f.__rule IN ('%[2]s', '%[3]s', '%[4]s', '%[5]s', '%[6]s') THEN f.__rule ELSE '%[1]s' END AS __match, "+
		"CASE WHEN c.__web IS NOT NULL AND NOT (f.__rank = c.__best AND p.__n = 1) THEN '%[7]s' ELSE f.__rule END AS __rule, "+
		"coalesce(f.__unknown_web, c.__web) AS __claimed_sku, b.__n = 1 AS __kept "+
		"FROM __first AS f LEFT JOIN __claims AS c ON c.__web = f.__web "+
		"LEFT JOIN __peers AS p ON p.__web = f.__web AND p.__rank = f.__rank "+
		"LEFT JOIN __peers AS b ON b.__web = c.__web AND b.__rank = c.__best)",
		MatchPending, MatchManual, MatchAmbiguousGTIN, MatchGTIN, MatchMPNBrand, MatchUnmatched, ruleClaimed)
	return b.String()
}

// manualSQL is the CTE __manual(__pos, __web): the decisions of the mappings file (__web NULL: not a match).
func (s *Step) manualSQL() string {
	if len(s.mappings) == 0 {
		return "__manual AS (SELECT CAST(NULL AS VARCHAR) AS __pos, CAST(NULL AS VARCHAR) AS __web WHERE false)"
	}
	rows := make([]string, len(s.mappings))
	for i, m := range s.mappings {
		web := "NULL"
		if m.Web != "" {
			web = spec.QuoteString(m.Web)
		}
		rows[i] = fmt.Sprintf("(%s, %s)", spec.QuoteString(m.Pos), web)
	}
	return fmt.Sprintf("__manual AS (SELECT CAST(v.a AS VARCHAR) AS __pos, CAST(v.b AS VARCHAR) AS __web FROM (VALUES %s) AS v(a, b))",
		strings.Join(rows, ", "))
}

// gtin is a relation's GTIN field compared as a GTIN-14: spaces removed, 11 to 14 digits left-padded with
// zeros (so a UPC-A, its EAN-13 and its GTIN-14 are equal); any other value is NULL and never matches. The
// check digit is the sources' business. A field named "" is turned off (NULL).
func gtin(alias, field string) string {
	if field == "" {
		return "CAST(NULL AS VARCHAR)"
	}
	x := fmt.Sprintf("replace(CAST(%s.%s AS VARCHAR), ' ', '')", alias, spec.QuoteIdent(field))
	return fmt.Sprintf("CASE WHEN regexp_full_match(%[1]s, '[0-9]{11,14}') THEN lpad(%[1]s, 14, '0') END", x)
}

// text is a relation's field as text, empty text as NULL; a field named "" is turned off (NULL).
func text(alias, field string) string {
	if field == "" {
		return "CAST(NULL AS VARCHAR)"
	}
	return fmt.Sprintf("nullif(CAST(%s.%s AS VARCHAR), '')", alias, spec.QuoteIdent(field))
}

// quoted is the SQL text of x in double quotes (NULL when x is NULL).
func quoted(x string) string { return fmt.Sprintf("'\"' || %s || '\"'", x) }

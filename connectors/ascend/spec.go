package ascend

import (
	"github.com/possync/possync/connectors"
	"github.com/possync/possync/spec"
)

// Location statuses, as set in Ascend's eCommerce Export options.
const (
	statusNone   = "none"
	statusSingle = "single-site"
	statusMulti  = "multi-site"
)

// connectionFields are the FTP connection settings, shared by the ascend and ascend_promotions sources.
var connectionFields = []spec.Field{
	{Name: "host", Type: spec.TypeString, Required: true, Example: "posftp.smartetailing.com",
		Description: "FTP server the Ascend POS uploads to."},
	{Name: "port", Type: spec.TypeInt, Default: 21, Description: "FTP control port."},
	{Name: "user", Type: spec.TypeString, Required: true, Example: "1234",
		Description: "FTP account user ID: the 4-digit number from the POS FTP email (Settings > POS Sync > " +
			"POS Sync Settings > FTP Account Information)."},
	{Name: "password", Type: spec.TypeString, Required: true, Secret: true, Example: "${ASCEND_FTP_PASSWORD}",
		Description: "FTP account password. Never printed."},
	{Name: "passive", Type: spec.TypeBool, Default: true, Advanced: true,
		Description: "Passive mode (EPSV, falling back to PASV). It is the only mode supported: active FTP " +
			"rarely crosses firewalls and NAT, so false is refused."},
	{Name: "tls", Type: spec.TypeString, Default: "none", Enum: []string{"none", "explicit"},
		Description: "explicit: FTPS with AUTH TLS on the control port, data connections protected (PROT P). " +
			"The server certificate is verified against the system's CAs and the host name, unless ca_file or " +
			"fingerprint says otherwise."},
	{Name: "ca_file", Type: spec.TypeString, Advanced: true, Example: "certs/ftp-ca.pem",
		Description: "PEM file of the CA (or the self-signed certificate) to verify the server against, " +
			"relative to the pipeline file's folder. The host name is still checked."},
	{Name: "fingerprint", Type: spec.TypeString, Advanced: true,
		Example: "3f:a1:...:9c",
		Description: "SHA-256 of the server certificate (64 hex digits, colons allowed): the certificate is " +
			"pinned and accepted whatever signed it. For self-signed servers without a CA file."},
	{Name: "timeout", Type: spec.TypeDuration, Default: "30s",
		Description: "Connection timeout, and the longest the server may stay silent during a command or transfer."},
	{Name: "dir", Type: spec.TypeString, Default: "/", Description: "Remote folder holding the uploads."},
	{Name: "archive_dir", Type: spec.TypeString, Example: "archive",
		Description: "Optional remote folder (relative to dir unless absolute; created if missing) into which each " +
			"applied run moves the uploads it has superseded, so the upload folder stays small. Only uploads of " +
			"the locations the pipeline reads move, and only those older than what the run applied: for ascend, " +
			"the full and inv files older than each location's applied full file, and its promo files older than " +
			"that full file except the newest of them (ascend_promotions may still be reading it); for " +
			"ascend_promotions, the promo files older than each location's applied promo file. The files every " +
			"run reads again (the current full file and the inv files after it, the current promo file) never " +
			"move, nor do files of other locations or with an unknown Short Name. A file keeps its name, or gets " +
			"a numbered one (Downtown_20250114_020000_full.1.txt) when the archive already holds that name. " +
			"The user needs write access (rename, and create the folder). A failure to archive is a note of " +
			"the run report, never a failure of the run: the next applied run tries again. Plans never move " +
			"anything."},
	{Name: "locations", Type: spec.TypeList, Required: true,
		Description: "Every Ascend location that uploads to this FTP account, with its status in Ascend. A file " +
			"whose Short Name matches none of them (even by case only) is rejected, never used.",
		Items: &spec.Field{Type: spec.TypeObject, Fields: []spec.Field{
			{Name: "short_name", Type: spec.TypeString, Required: true, Example: "Downtown",
				Description: "Inventory Export Short Name; equals the website's Neighborhood Descriptor exactly (case-sensitive)."},
			{Name: "status", Type: spec.TypeString, Required: true, Enum: []string{statusNone, statusSingle, statusMulti},
				Description: "none: never read; single-site: its own website; multi-site: shares one website with " +
					"the chain's other multi-site locations."},
		}},
		Example: []any{
			map[string]any{"short_name": "Downtown", "status": "multi-site"},
			map[string]any{"short_name": "Uptown", "status": "multi-site"},
			map[string]any{"short_name": "Warehouse", "status": "none"},
		}},
	{Name: "mode", Type: spec.TypeString, Required: true, Enum: []string{statusSingle, statusMulti},
		Description: "Which locations this pipeline reads: single-site reads the one single-site location; " +
			"multi-site reads every multi-site location and combines them per SKU."},
	{Name: "settle", Type: spec.TypeDuration, Default: "2s", Advanced: true,
		Description: "Time between the two listings of the folder: a file whose size or modification time " +
			"changes in between is still being uploaded and is skipped this run."},
	{Name: "max_reject_percent", Type: spec.TypeFloat, Default: 5, Advanced: true,
		Description: "When more than this percentage of a file's rows are rejected, the read fails and the run " +
			"plans nothing."},
}

var sourceSpec = spec.Component{
	Kind:    spec.KindSource,
	Name:    "ascend",
	Summary: "Read Ascend POS inventory uploads (nightly full and daytime inventory files) from an FTP server.",
	Description: `Reads the inventory files an Ascend POS uploads over FTP for the website, named
<ShortName>_<YYYYMMDD>_<HHMMSS>_<full|inv>.txt. Each run lists the folder twice, settle apart, and skips
files still being uploaded (size or time changed, or a temporary name such as .part, .tmp, .filepart or a
leading dot).

For every location the pipeline reads, the current state is the newest complete full file plus, in order,
every complete inv file newer than it. An inv file changes only QtyOnHand and QtyOnOrder of SKUs a full
file read has (in multi-site mode, another location's full file counts): it never adds, removes or zeroes an
item, and a SKU it omits keeps its quantity. In multi-site mode
the locations combine per SKU: QtyOnHand is the sum with negatives counted as 0, QtyOnOrder the sum,
LastSoldDate the latest, Active, Ecommerce and NonInventory true when any location says Y, the other fields
from the first location (in configured order) that has the SKU.

The read is a snapshot of that state, keyed by sku, rebuilt from the files on the server every run: a SKU
missing from the full upload no longer exists. The files used are kept in the checkpoint; a run that would
fall back to a full file older than the last applied one fails instead. With archive_dir, each applied run
then moves the uploads older than the full file it applied out of the folder. Rows that cannot be used are
rejects naming file, line and reason; their SKUs keep their last applied values (the SKU is read from the
fields that survived when it can be; when it cannot, the run deletes and deactivates nothing). A full file
that ends inside a row it cannot read, that has fewer rows than min_rows_percent of the last applied one of
its location, or whose header differs from it, is suspect: the run deletes and deactivates nothing and says
why in the plan.

Files are tab-delimited or CSV with a header matched by name (case-insensitive, with aliases), UTF-8 with or
without BOM or Windows-1252, CRLF or LF. Upc is normalised to gtin14 (11 to 14 digits, left-padded, GS1 check
digit verified); SKUs sharing a GTIN are flagged gtin_ambiguous. eligible applies Ascend's website criteria
except the promotion clause: Active and Ecommerce and (in stock, or non-inventory, or on order, or sold within
90 days of the run date in timezone).

Fields: sku (key), short_name (the location the descriptive fields come from), upc (as uploaded), gtin14,
gtin_ambiguous, mpn, brand, description, model_year, color, size, category, msrp, price, qty_on_hand (never
negative), qty_on_order, non_inventory, last_sold_date, ecommerce, active, eligible, upload (full, or inv when
an inv file set its quantity) and file (the newest upload it comes from). Empty text is null.`,
	Fields: append(append([]spec.Field{}, connectionFields...),
		spec.Field{Name: "timezone", Type: spec.TypeString, Default: "UTC", Example: "America/Los_Angeles",
			Description: "The stores' IANA time zone: the run date for the 90-day sold rule of eligible is taken there."},
		spec.Field{Name: "min_rows_percent", Type: spec.TypeFloat, Default: 50, Advanced: true,
			Description: "A new full file with fewer rows than this percentage of the last applied full file of " +
				"the same location is suspect (an export or transfer cut short): the run then deletes and " +
				"deactivates nothing because it is missing, and says so in the plan. 0 turns the check off."},
	),
	Example: `source:
  type: ascend
  host: posftp.smartetailing.com
  user: "1234"
  password: ${ASCEND_FTP_PASSWORD}
  tls: explicit
  mode: multi-site
  timezone: America/Los_Angeles
  locations:
    - {short_name: Downtown, status: multi-site}
    - {short_name: Uptown, status: multi-site}
    - {short_name: Warehouse, status: none}`,
	Config: config{},
}

func init() {
	connectors.Sources.MustRegister(sourceSpec, connectors.SourceOf(NewSource))
}

package retailpos

import "github.com/possync/possync/spec"

var customersSpec = spec.Component{
	Kind:    spec.KindSource,
	Name:    "retailpos_customers",
	Summary: "Read the customers of a Lightspeed Retail X-Series POS, for matching orders to them (order_match).",
	Description: `Reads one record per customer from /customers (API 2.0, version-cursor pages; deleted customers left
out): id, customer_code, email, first_name, last_name, name (first and last name), company_name and phone (the
phone number, else the mobile). Texts are trimmed and empty ones are null. The read is a snapshot keyed by id,
read whole on every run. order_match compares the email case-insensitively and ignores placeholders.
Requests are paced and retried as for the retailpos source (429 waits for Retry-After).`,
	Fields: customersFields(),
	Example: `sources:
  customers:
    type: retailpos_customers
    domain_prefix: acme-outdoor
    token: ${RETAILPOS_TOKEN}`,
	Config: customersConfig{},
}

// customersFields are the retailpos connection settings.
func customersFields() []spec.Field {
	fields := sourceFields("retailpos_customers", "domain_prefix", "base_url", "token", "page_size", "timeout",
		"retry_budget", "requests_per_minute")
	fields[3].Description = "Customers per page of /customers."
	return fields
}

package retailpos

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/possync/possync/connectors"
	"github.com/possync/possync/record"
	"github.com/possync/possync/spec"
)

func init() {
	connectors.Sources.MustRegister(customersSpec, connectors.SourceOf(NewCustomersSource))
}

// customersSchema is the schema of the retailpos_customers source: the fields order_match reads (id, email)
// and those a person needs to recognise the customer in a note.
var customersSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.BinaryTypes.String},
	{Name: "customer_code", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "first_name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "last_name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "company_name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "phone", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// customer is the API 2.0 customer, the fields the source and the orders sink use.
type customer struct {
	ID           string `json:"id"`
	CustomerCode string `json:"customer_code"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
	CompanyName  string `json:"company_name"`
	Email        string `json:"email"`
	Phone        string `json:"phone"`
	Mobile       string `json:"mobile"`
	DeletedAt    string `json:"deleted_at"`
}

// customersConfig is the retailpos_customers source's configuration: the connection settings only.
type customersConfig struct {
	connection
}

// CustomersSource reads the customers of a Lightspeed Retail X-Series store. Read may be called once per
// run; the source holds no per-read state.
type CustomersSource struct {
	api *api
}

var (
	_ connectors.Source           = (*CustomersSource)(nil)
	_ connectors.ConnectionTester = (*CustomersSource)(nil)
)

// NewCustomersSource builds a retailpos_customers source. It checks the connection settings as the retailpos
// source does and touches no network.
func NewCustomersSource(cfg spec.Config, _ connectors.Env) (*CustomersSource, error) {
	c := customersConfig{connection: defaultConnection()}
	if err := cfg.Decode(&c); err != nil {
		return nil, err
	}
	a, err := c.connect()
	if err != nil {
		return nil, err
	}
	return &CustomersSource{api: a}, nil
}

// Schema returns the fixed customer schema.
func (s *CustomersSource) Schema() *arrow.Schema { return customersSchema }

// Check asks for one customer, which proves the token and its customers scope.
func (s *CustomersSource) Check(ctx context.Context) error {
	var body struct{}
	if err := s.api.get(ctx, "/customers", map[string][]string{"page_size": {"1"}}, &body); err != nil {
		return fmt.Errorf("list customers: %w", err)
	}
	return nil
}

// Read lists every customer that is not deleted (version-cursor pages of /customers) as one snapshot keyed
// by id. All the requests happen here; the returned reader only builds batches.
func (s *CustomersSource) Read(ctx context.Context, req connectors.ReadRequest) (connectors.Reader, error) {
	var rows []record.Record
	_, err := each(ctx, s.api, "/customers", nil, 0, func(items []customer) error {
		for i := range items {
			if c := &items[i]; c.DeletedAt == "" && c.ID != "" {
				rows = append(rows, c.record())
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list customers: %w", err)
	}
	alloc := req.Alloc
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	return connectors.RecordsReader(customersSchema, rows, batchSize, alloc,
		connectors.ReadResult{Mode: connectors.Snapshot, Key: []string{"id"}}), nil
}

// record is the customer's row: texts trimmed, empty ones null; name is first and last name joined; phone
// is the phone number, else the mobile.
func (c *customer) record() record.Record {
	first, last := strings.TrimSpace(c.FirstName), strings.TrimSpace(c.LastName)
	phone := strings.TrimSpace(c.Phone)
	if phone == "" {
		phone = strings.TrimSpace(c.Mobile)
	}
	return record.Record{"id": c.ID, "customer_code": nullText(c.CustomerCode), "email": nullText(c.Email),
		"first_name": nullText(first), "last_name": nullText(last), "name": nullText(strings.TrimSpace(first + " " + last)),
		"company_name": nullText(c.CompanyName), "phone": nullText(phone)}
}

// nullText is s trimmed, or nil when empty.
func nullText(s string) any {
	if s = strings.TrimSpace(s); s == "" {
		return nil
	}
	return s
}

package shopify

import (
	"math"
	"strconv"
	"strings"
)

// lineFields is what the source reads of each line item.
const lineFields = `id sku name vendor quantity currentQuantity
        originalUnitPriceSet { shopMoney { amount } }
        taxLines { priceSet { shopMoney { amount } } }
        variant { legacyResourceId barcode }`

// ordersQuery reads one page of orders updated since a time, oldest update first. The metafield selection
// is there only when the source marks orders with a metafield.
func ordersQuery(withMetafield bool) string {
	mf := ""
	vars := ""
	if withMetafield {
		mf = "\n      mark: metafield(namespace: $ns, key: $key) { value }"
		vars = ", $ns: String!, $key: String!"
	}
	return `query PossyncOrders($first: Int!, $after: String, $query: String, $lines: Int!` + vars + `) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id legacyResourceId name email phone createdAt updatedAt processedAt cancelledAt cancelReason
      note tags currencyCode displayFinancialStatus displayFulfillmentStatus paymentGatewayNames` + mf + `
      customer { legacyResourceId phone defaultEmailAddress { emailAddress } }
      billingAddress { name address1 address2 city provinceCode zip countryCodeV2 phone }
      shippingAddress { name address1 address2 city provinceCode zip countryCodeV2 phone }
      currentSubtotalPriceSet { shopMoney { amount } }
      currentTotalDiscountsSet { shopMoney { amount } }
      totalShippingPriceSet { shopMoney { amount } }
      currentTotalTaxSet { shopMoney { amount } }
      currentTotalPriceSet { shopMoney { amount } }
      lineItems(first: $lines) {
        pageInfo { hasNextPage endCursor }
        nodes { ` + lineFields + ` }
      }
      shippingLines(first: 5) { nodes { title code } }
      fulfillmentOrders(first: 5) { nodes { status deliveryMethod { methodType } assignedLocation { location { name } } } }
    }
  }
}`
}

// orderLinesQuery reads the line items of one order after a cursor (orders with more lines than a page of
// orders carries).
const orderLinesQuery = `query PossyncOrderLines($id: ID!, $after: String) {
  order(id: $id) {
    lineItems(first: 100, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { ` + lineFields + ` }
    }
  }
}`

// shopQuery proves the token and the shop.
const shopQuery = `query PossyncShop { shop { name } }`

// tagsAddMutation adds tags to an order.
const tagsAddMutation = `mutation PossyncTagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } }
}`

// metafieldsSetMutation sets up to 25 metafields at once (atomic: one invalid input saves none).
const metafieldsSetMutation = `mutation PossyncMetafieldsSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) { metafields { key namespace } userErrors { field message code } }
}`

type money struct {
	ShopMoney struct {
		Amount string `json:"amount"`
	} `json:"shopMoney"`
}

type pageInfo struct {
	HasNextPage bool   `json:"hasNextPage"`
	EndCursor   string `json:"endCursor"`
}

type address struct {
	Name, Address1, Address2, City, ProvinceCode, Zip, CountryCodeV2, Phone string
}

type lineItem struct {
	ID                   string `json:"id"`
	SKU                  string `json:"sku"`
	Name                 string `json:"name"`
	Vendor               string `json:"vendor"`
	Quantity             int    `json:"quantity"`
	CurrentQuantity      *int   `json:"currentQuantity"`
	OriginalUnitPriceSet *money `json:"originalUnitPriceSet"`
	TaxLines             []struct {
		PriceSet *money `json:"priceSet"`
	} `json:"taxLines"`
	Variant *struct {
		LegacyResourceID string `json:"legacyResourceId"`
		Barcode          string `json:"barcode"`
	} `json:"variant"`
}

type lineItems struct {
	PageInfo pageInfo   `json:"pageInfo"`
	Nodes    []lineItem `json:"nodes"`
}

type orderNode struct {
	ID                       string   `json:"id"`
	LegacyResourceID         string   `json:"legacyResourceId"`
	Name                     string   `json:"name"`
	Email                    string   `json:"email"`
	Phone                    string   `json:"phone"`
	CreatedAt                string   `json:"createdAt"`
	UpdatedAt                string   `json:"updatedAt"`
	ProcessedAt              string   `json:"processedAt"`
	CancelledAt              string   `json:"cancelledAt"`
	CancelReason             string   `json:"cancelReason"`
	Note                     string   `json:"note"`
	Tags                     []string `json:"tags"`
	CurrencyCode             string   `json:"currencyCode"`
	DisplayFinancialStatus   string   `json:"displayFinancialStatus"`
	DisplayFulfillmentStatus string   `json:"displayFulfillmentStatus"`
	PaymentGatewayNames      []string `json:"paymentGatewayNames"`
	Mark                     *struct {
		Value string `json:"value"`
	} `json:"mark"`
	Customer *struct {
		LegacyResourceID    string `json:"legacyResourceId"`
		Phone               string `json:"phone"`
		DefaultEmailAddress *struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"defaultEmailAddress"`
	} `json:"customer"`
	BillingAddress           *address  `json:"billingAddress"`
	ShippingAddress          *address  `json:"shippingAddress"`
	CurrentSubtotalPriceSet  *money    `json:"currentSubtotalPriceSet"`
	CurrentTotalDiscountsSet *money    `json:"currentTotalDiscountsSet"`
	TotalShippingPriceSet    *money    `json:"totalShippingPriceSet"`
	CurrentTotalTaxSet       *money    `json:"currentTotalTaxSet"`
	CurrentTotalPriceSet     *money    `json:"currentTotalPriceSet"`
	LineItems                lineItems `json:"lineItems"`
	ShippingLines            struct {
		Nodes []struct {
			Title string `json:"title"`
			Code  string `json:"code"`
		} `json:"nodes"`
	} `json:"shippingLines"`
	FulfillmentOrders struct {
		Nodes []struct {
			Status         string `json:"status"`
			DeliveryMethod *struct {
				MethodType string `json:"methodType"`
			} `json:"deliveryMethod"`
			AssignedLocation *struct {
				Location *struct {
					Name string `json:"name"`
				} `json:"location"`
			} `json:"assignedLocation"`
		} `json:"nodes"`
	} `json:"fulfillmentOrders"`
}

type ordersData struct {
	Orders *struct {
		PageInfo pageInfo    `json:"pageInfo"`
		Nodes    []orderNode `json:"nodes"`
	} `json:"orders"`
}

type orderLinesData struct {
	Order *struct {
		LineItems lineItems `json:"lineItems"`
	} `json:"order"`
}

type userError struct {
	Field   []string `json:"field"`
	Message string   `json:"message"`
	Code    string   `json:"code"`
}

func (u userError) String() string {
	s := u.Message
	if len(u.Field) > 0 {
		s += " (field " + strings.Join(u.Field, ".") + ")"
	}
	return s
}

type tagsAddData struct {
	TagsAdd *struct {
		UserErrors []userError `json:"userErrors"`
	} `json:"tagsAdd"`
}

type metafieldsSetData struct {
	MetafieldsSet *struct {
		UserErrors []userError `json:"userErrors"`
	} `json:"metafieldsSet"`
}

// amount reads a MoneyBag's shop amount; ok is false when it is absent or not a finite number ("NaN" and
// "Inf" parse as floats, but are no amount).
func (m *money) amount() (float64, bool) {
	if m == nil || m.ShopMoney.Amount == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(m.ShopMoney.Amount, 64)
	return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
}

// gidTail returns the numeric tail of a global id (gid://shopify/Order/123 → 123).
func gidTail(gid string) string {
	if i := strings.LastIndexByte(gid, '/'); i >= 0 {
		return gid[i+1:]
	}
	return gid
}

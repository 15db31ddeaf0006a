package examples

import (
	"fmt"

	"github.com/possync/possync/connectors/ecom/ecomtest"
	"github.com/possync/possync/connectors/retailpos/retailpostest"
)

// Step is one change to the world between two runs of an example: what a merchant does in the POS or
// directly in the store.
type Step struct {
	Title string
	Do    func(e *Env) error
	// Note is printed after the plan that follows the step: what to look for in it.
	Note string
	// Plain syncs after the step without --refresh (for sinks that cannot list their records).
	Plain bool
	// NoChanges says the plan after the step changes nothing (the point the step makes): the demo expects
	// plan's exit code 0 and applies nothing.
	NoChanges bool
	// Blocked says the plan after the step trips the mass-change guard (the point being that the demo's
	// catalog is tiny): the demo expects plan's exit code 3 and applies with --allow-mass-change.
	Blocked bool
	// Commands, when set, are what the demo runs after the step instead of its usual plan, apply and plan of
	// every pipeline of the example: for a step whose point is in a sequence of its own (a guard refusing
	// first, then a rerun that sends nothing).
	Commands []Command
}

// Command is one possync command the demo runs after a step.
type Command struct {
	// Args are the command line after "possync", e.g. "plan statuses.yaml --limit 20".
	Args string
	// Exit is the exit code the command must end with; any other fails the demo.
	Exit int
	// Note is printed after the command's output: what to look for in it.
	Note string
	// Before, when set, is called just before the command runs (e.g. to mark where the calls it causes begin).
	Before func(e *Env)
	// Show, when set, is printed after the note: what the emulators recorded (e.g. the calls a website
	// received).
	Show func(e *Env) string
}

// Scenario is what `possync demo` does between runs of the example, to show the sync rules at work. Examples
// over local files have none.
func (e *Env) Scenario() []Step {
	switch e.example {
	case "retail-ecom":
		return retailScenario()
	case "bikeshop":
		return bikeshopScenario()
	case "orders":
		return ordersScenario()
	}
	return nil
}

// retailScenario is a day of edits in the Retail POS and in the eCom store.
func retailScenario() []Step {
	return []Step{{
		Title: "In the POS: Bravo's price goes up to 120, the Trail Bottle is deactivated, the trucker cap is " +
			"deleted, and a new Bravo variant (White / L) is added. In the eCom store, the merchant renames the " +
			"Trail Bottle and sets a compare-to price on the gift card (an eCom-only field).",
		Do: func(e *Env) error {
			pos, shop := e.RetailPOS, e.Ecom
			for _, sku := range []string{"787878", "787879", "787880"} {
				if err := posEdit(pos, sku, func(p *retailpostest.Product) { p.PriceExcludingTax = 120 }); err != nil {
					return err
				}
			}
			if err := posEdit(pos, "BOT-750", func(p *retailpostest.Product) { p.Active = false }); err != nil {
				return err
			}
			cap, ok := pos.ProductBySKU("CAP-OLD")
			if !ok || !pos.Delete(cap.ID) {
				return fmt.Errorf("demo: no CAP-OLD in the POS")
			}
			bravo, _ := pos.ProductBySKU("787878")
			v := bravo
			v.ID, v.VariantParentID, v.SKU = "", bravo.ID, "787881"
			v.VariantName = "Bravo / White / L"
			v.VariantOptions = []retailpostest.VariantOption{{Name: "Color", Value: "White"}, {Name: "Size", Value: "L"}}
			v.ProductCodes = []retailpostest.ProductCode{{Type: "UPC", Code: "012345678936"}}
			v = pos.Upsert(v)
			pos.SetInventory(v.ID, retailpostest.OutletMainStreet, 5)
			if !shop.Edit("BOT-750", func(p *ecomtest.Product) { p.Name = "Trail Bottle (SALE!)" }) {
				return fmt.Errorf("demo: no BOT-750 in the store")
			}
			if !shop.Edit("GIFT-50", func(p *ecomtest.Product) { p.CompareToPrice = 60 }) {
				return fmt.Errorf("demo: no GIFT-50 in the store")
			}
			return nil
		},
		Blocked: true,
		Note: "(The demo catalog is tiny: removing 2 of its 8 products trips the 10% deletion guard, as it " +
			"should, and plan exits 3 as apply would. The demo overrides it; in production, review the plan first.)",
	}}
}

func posEdit(pos *retailpostest.Server, sku string, f func(*retailpostest.Product)) error {
	p, ok := pos.ProductBySKU(sku)
	if !ok {
		return fmt.Errorf("demo: no %s in the POS", sku)
	}
	f(&p)
	pos.Upsert(p)
	return nil
}

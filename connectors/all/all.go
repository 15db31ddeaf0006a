// Package all imports every built-in connector a user can configure (the memory connector is for tests: they
// import it themselves), registering them in connectors.Sources and connectors.Sinks.
package all

import (
	// Built-in connectors.
	_ "github.com/possync/possync/connectors/ascend"
	_ "github.com/possync/possync/connectors/ecom"
	_ "github.com/possync/possync/connectors/file"
	_ "github.com/possync/possync/connectors/orderurl"
	_ "github.com/possync/possync/connectors/retailpos"
	_ "github.com/possync/possync/connectors/shopify"
)

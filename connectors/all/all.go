// Package all imports every built-in connector, registering them in connectors.Sources and connectors.Sinks.
package all

import (
	// Built-in connectors.
	_ "github.com/possync/possync/connectors/file"
	_ "github.com/possync/possync/connectors/memory"
)

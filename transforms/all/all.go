// Package all registers every built-in transform (filter, map, match, order_match, order_status, promotions,
// reserve, sql) with transforms.Registry.
package all

import (
	_ "github.com/possync/possync/transforms/filter"      // filter transform
	_ "github.com/possync/possync/transforms/map"         // map transform
	_ "github.com/possync/possync/transforms/match"       // match transform
	_ "github.com/possync/possync/transforms/ordermatch"  // order_match transform
	_ "github.com/possync/possync/transforms/orderstatus" // order_status transform
	_ "github.com/possync/possync/transforms/promotions"  // promotions transform
	_ "github.com/possync/possync/transforms/reserve"     // reserve transform
	_ "github.com/possync/possync/transforms/sql"         // sql transform
)

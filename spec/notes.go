package spec

// The kinds of a plan's notes (plan.Note.Kind): whoever writes a note says what it is about, so that a
// reader (the HTML page's tabs, a script reading `possync plan --json`) sorts notes by their kind, never by
// their wording. A transform reports its notes with one of these in its report query's kind column
// (transforms.Reporter); the runner sets the kind of the notes it writes itself and of its sources' notes.
// They are stable values of the plan document: add a kind rather than change one.
const (
	// NoteOther is a note of no more specific kind (and every note of a plan written before notes had
	// kinds). A transform's report row of kind 'note' is one.
	NoteOther = "other"
	// NoteInput is a source's remark about reading its input: files skipped or read again, an encoding
	// guessed, a full or incremental read, rows left out.
	NoteInput = "input"
	// NoteHeldRemoval says that deletions and deactivations of records missing from the run were held (or,
	// with --allow-mass-change, planned although the input is suspect), and why.
	NoteHeldRemoval = "held_removal"
	// NotePendingMapping is an item the match transform could not map on its own (or a GTIN several items
	// share): it waits for a decision in the mappings file.
	NotePendingMapping = "pending_mapping"
	// NoteHeldOrder is an order the order_match transform held back, with its status and what would fix it.
	NoteHeldOrder = "held_order"
	// NoteReservation is the reserve transform's: stock reserved by open website orders, or an open order
	// line it could not place on a stock item.
	NoteReservation = "reservation"
	// NotePromotion is the promotions transform's: a sale price that is not applied, and why.
	NotePromotion = "promotion"
	// NoteOrderStatus is the order_status transform's: a POS sale that went back, a partly fulfilled sale,
	// an order first seen cancelled.
	NoteOrderStatus = "order_status"
)

// NoteKinds lists every note kind, in the order a reader may group them.
var NoteKinds = []string{NoteHeldRemoval, NotePendingMapping, NoteHeldOrder, NoteReservation, NotePromotion,
	NoteOrderStatus, NoteInput, NoteOther}

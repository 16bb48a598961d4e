package postgres

// SetListWalk sets how many rows a listing walks before it looks up the
// rest through the indexes.
func SetListWalk(db *DB, n int) { db.listWalk = n }

// SegmentKey exposes the key contact_segments holds for a token.
var SegmentKey = segmentKey

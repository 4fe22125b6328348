// Package pgstore is a bridge.Store on PostgreSQL, for a fleet of
// long-running bridge processes sharing one database: a move accepted by
// any instance is stored once and pushed to the subscribers of every
// instance.
//
// # Schema
//
// The migrations in migrations/ are embedded and applied at Open, each in
// one transaction with its row in bridge_schema_migrations (version,
// name); instances starting together on a fresh database apply each
// migration once. Migrate is the same runner for other components that
// keep tables in the bridge's database with their own migrations and
// version table (the watcher's watcher_* tables). The tables
// (0001_init.sql):
//
//	bridge_games   game_id BYTEA(32) PRIMARY KEY, white BYTEA(20),
//	               black BYTEA(20), stake NUMERIC(78,0) (wei),
//	               move_timeout NUMERIC(20,0) (blocks)
//	bridge_states  game_id BYTEA(32) REFERENCES bridge_games,
//	               ply BIGINT (1 to 2^32−1), fen TEXT, move TEXT,
//	               prev_hash BYTEA(32), signature BYTEA(65),
//	               accepted BIGINT (unix nanoseconds),
//	               PRIMARY KEY (game_id, ply)
//
// Rows are only ever inserted. The newest state of a game is the first
// row of ORDER BY ply DESC on the primary key's index; a page of history
// is a range scan of it.
//
// # Compare-and-set
//
// Append is one INSERT … SELECT … WHERE (ply − 1 is stored, or ply = 1 and
// the game exists) ON CONFLICT (game_id, ply) DO NOTHING: one statement,
// so one transaction. Two appends of one ply meet at the primary key and
// exactly one inserts; an append whose ply − 1 is missing inserts nothing.
// Since rows are never deleted, "ply − 1 stored and ply not stored" is
// exactly "the newest ply is ply − 1". No row inserted means ErrConflict
// (or ErrNotFound for an unknown game).
//
// # Push across instances
//
// The same statement calls pg_notify(Channel, game id) for the row it
// inserted, so the notification is sent when, and only if, the insert
// commits. Each Store holds one extra connection that LISTENs on Channel
// (from before Open returns) and wakes the watchers of the notified game
// in its process. If that connection drops, the Store reconnects with
// backoff and then wakes every watcher, since notifications sent while it
// was away are lost; the bridge's watchers re-read the store on a wake-up,
// so none of the moves is missed.
//
// # CockroachDB
//
// The schema and queries keep to SQL that CockroachDB also accepts (BYTEA,
// NUMERIC, CHECK, INSERT … ON CONFLICT DO NOTHING, data-modifying WITH),
// except for the push: CockroachDB has no LISTEN/NOTIFY and no
// pg_notify, so on CockroachDB Append fails and Watch would never wake.
// Porting the store means replacing the listener with polling (as
// offchain/bridge/dynamostore does) or a changefeed, and dropping the
// pg_notify call. The migrations rely on transactional DDL, which
// CockroachDB runs with restrictions; they only create tables, IF NOT
// EXISTS. This package is tested against PostgreSQL only.
//
// # Use
//
//	s, err := pgstore.Open(ctx, "postgres://bridge@db.internal/arbiter")
//	if err != nil { ... }
//	defer s.Close()
//	b, err := bridge.New(cfg, s, arbiter)
//
// It may import offchain/bridge (the Store contract it implements) and
// offchain/channel; it must not import node/, contracts/, consensus/,
// cmd/ or examples/.
package pgstore

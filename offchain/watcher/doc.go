// Package watcher consumes the chess arbiter's events and acts on them as
// a watchtower.
//
// A Watcher reads the arbiter's logs with eth_getLogs in chain order, in
// ranges of at most Config.MaxRange blocks, up to head -
// Config.Confirmations, from a checkpoint kept in its own badger database
// (DB; key schema in schema.go). The record of each processed log and the
// moved checkpoint are written in one transaction, so a watcher killed at
// any moment resumes without missing or repeating an event; records are
// keyed by (block hash, log index), which makes a replay detectable. It
// remembers the hashes of the blocks it processed: when the chain
// replaces one, it rolls back to the common ancestor, drops the records of
// the replaced blocks and processes the new branch. A log that does not
// decode under the arbiter ABI is quarantined with its raw form instead of
// stalling the watcher.
//
// Where it keeps all this is a Store: DB, its own badger database, or
// PGDB, tables of the bridge's PostgreSQL database (migrations/), for a
// fleet of bridges of which one at a time holds the watchtower lease
// (offchain/lease): the successor resumes from the same checkpoint,
// records and stored transactions. A PGDB runs a Guard in each write
// transaction, so that a deposed lease holder writes nothing more.
//
// As a watchtower, on GameClaimed for a game the bridge's store holds, it
// refutes the claim with a later (or, at the claimed ply, a different)
// state signed by the claimant, or answers a timeout claim with the
// opponent's signed move on the claimed state; either way it notifies the
// opponent through a Notifier. Its transaction is signed with
// Config.Key, dry-run with eth_estimateGas, and stored before it is sent,
// so a replay finds the transaction the node holds rather than sending a
// second one.
//
// An action is followed until its transaction is in a block: kept in the
// database as pending, it is tried again at each poll after a backoff
// (Config.RetryBackoff, doubling up to Config.RetryBackoffMax) while the
// node refuses it (a full pool) or has lost it, signed afresh when its
// nonce was taken, until the claim's deadline block. A restarted watcher
// resumes every pending action at once. When the chain's dry run refuses
// the call it stops; when the window closes first it logs an error and
// counts the claim as missed.
//
// Metrics: arbiter_watcher_lag_blocks, arbiter_watcher_events_handled_total,
// arbiter_watcher_events_quarantined_total, arbiter_watcher_reorgs_total,
// arbiter_watcher_transactions_sent_total, and, by method (refute,
// answer), arbiter_watcher_action_failures_total,
// arbiter_watcher_claims_missed_total and the gauge
// arbiter_watcher_claims_at_risk (actions not yet in a block).
//
//	db, err := watcher.Open(filepath.Join(dir, "watcher"))
//	if err != nil { ... }
//	defer db.Close()
//	client, err := ethclient.Dial("http://127.0.0.1:8545")
//	if err != nil { ... }
//	w, err := watcher.New(watcher.Config{Key: key, Confirmations: 2}, db, client, bridgeStore, watcher.LogNotifier{})
//	if err != nil { ... }
//	err = w.Run(ctx) // until ctx is done
//
// In a fleet on PostgreSQL, the store is a PGDB and Run goes under the
// lease:
//
//	l, err := lease.New(lease.Config{URL: url, Name: "watchtower"})
//	db, err := watcher.OpenPostgres(ctx, url, l.Guard)
//	w, err := watcher.New(cfg, db, client, bridgeStore, notifier)
//	err = l.Run(ctx, w.Run)
//
// It owns the watcher's databases (badger: schema.go, opened through
// internal/kvopen; PostgreSQL: pgdb.go) and the watchtower; it reaches a
// node over JSON-RPC only and must not import node/, contracts/,
// consensus/, cmd/ or examples/.
package watcher

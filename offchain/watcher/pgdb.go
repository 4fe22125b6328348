package watcher

import (
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/arbiter-chain/arbiter/offchain/bridge/pgstore"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// pgMigrations are the schema migrations of the watcher's tables,
// applied by OpenPostgres with the bridge's migration runner; their
// versions are recorded in pgMigrationTable. A released migration is
// never edited: a change is a new file.
//
//go:embed migrations/*.sql
var pgMigrations embed.FS

// pgMigrationTable records the applied watcher migrations.
const pgMigrationTable = "watcher_schema_migrations"

// pgOpTimeout bounds each PGDB operation: the Store methods take no
// context, and a watcher must not hang on an unreachable database.
const pgOpTimeout = 15 * time.Second

// pgPoolConns is the size of a PGDB's connection pool: one watcher writes
// from one goroutine, and reads come from it and from status queries.
const pgPoolConns = 2

// Guard is run first in every write transaction of a PGDB; an error
// aborts the write. The watchtower lease passes one that checks that the
// lease is still held, so that an instance that lost the lease cannot
// write after its successor started (see offchain/lease).
type Guard func(ctx context.Context, tx pgx.Tx) error

// PGDB is the watcher's Store in tables of a PostgreSQL database (the
// bridge's, next to pgstore's tables; migrations/ has the schema). One
// Watcher writes it at a time; its read methods may be called from any
// goroutine.
type PGDB struct {
	pool  *pgxpool.Pool
	guard Guard
}

// OpenPostgres connects to the database at url (a postgres:// URL),
// applies the watcher's migrations it lacks, and returns the store. guard,
// if not nil, is run in every write transaction.
func OpenPostgres(ctx context.Context, url string, guard Guard) (*PGDB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errStore, err)
	}
	cfg.MaxConns = pgPoolConns
	if cfg.ConnConfig.ConnectTimeout <= 0 {
		cfg.ConnConfig.ConnectTimeout = pgOpTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errStore, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%w: connect: %w", errStore, err)
	}
	if err := pgstore.Migrate(ctx, pool, pgMigrations, "migrations", pgMigrationTable); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%w: %w", errStore, err)
	}
	return &PGDB{pool: pool, guard: guard}, nil
}

// Close closes every connection.
func (d *PGDB) Close() error {
	d.pool.Close()
	return nil
}

// opContext returns the context of one operation.
func opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), pgOpTimeout)
}

// update runs fn in one write transaction, after the guard.
func (d *PGDB) update(what string, fn func(ctx context.Context, tx pgx.Tx) error) error {
	ctx, cancel := opContext()
	defer cancel()
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if d.guard != nil {
			if err := d.guard(ctx, tx); err != nil {
				return err
			}
		}
		return fn(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("%w: %s: %w", errStore, what, err)
	}
	return nil
}

// Checkpoint implements Store.
func (d *PGDB) Checkpoint() (Checkpoint, error) {
	c, _, err := d.stored()
	return c, err
}

// stored implements Store.
func (d *PGDB) stored() (Checkpoint, bool, error) {
	ctx, cancel := opContext()
	defer cancel()
	var block, index int64
	err := d.pool.QueryRow(ctx, `SELECT next_block, next_index FROM watcher_checkpoint WHERE id = 1`).Scan(&block, &index)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Checkpoint{}, false, nil
	case err != nil:
		return Checkpoint{}, false, fmt.Errorf("%w: checkpoint: %w", errStore, err)
	}
	return Checkpoint{Block: uint64(block), Index: uint(index)}, true, nil
}

// Sequence implements Store.
func (d *PGDB) Sequence() (uint64, error) {
	ctx, cancel := opContext()
	defer cancel()
	var n int64
	err := d.pool.QueryRow(ctx, `SELECT sequence FROM watcher_checkpoint WHERE id = 1`).Scan(&n)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("%w: sequence: %w", errStore, err)
	}
	return uint64(n), nil
}

// queryJSON decodes the record column of every row of query into a T.
func queryJSON[T any](d *PGDB, what, query string, args ...any) ([]T, error) {
	ctx, cancel := opContext()
	defer cancel()
	rows, err := d.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errStore, what, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) {
		var (
			raw []byte
			v   T
		)
		if err := row.Scan(&raw); err != nil {
			return v, err
		}
		return v, json.Unmarshal(raw, &v)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errStore, what, err)
	}
	return out, nil
}

// Handled implements Store.
func (d *PGDB) Handled() ([]Handled, error) {
	return queryJSON[Handled](d, "handled records", `SELECT record FROM watcher_handled ORDER BY seq`)
}

// Quarantined implements Store.
func (d *PGDB) Quarantined() ([]Quarantined, error) {
	return queryJSON[Quarantined](d, "quarantined logs", `SELECT record FROM watcher_quarantined ORDER BY block_hash, log_index`)
}

// isHandled implements Store.
func (d *PGDB) isHandled(blockHash common.Hash, index uint) (bool, error) {
	ctx, cancel := opContext()
	defer cancel()
	var ok bool
	err := d.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM watcher_handled WHERE block_hash = $1 AND log_index = $2)`,
		blockHash[:], int64(index)).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("%w: record of %s/%d: %w", errStore, blockHash, index, err)
	}
	return ok, nil
}

// blocks implements Store.
func (d *PGDB) blocks(limit int) ([]blockRef, error) {
	ctx, cancel := opContext()
	defer cancel()
	rows, err := d.pool.Query(ctx, `SELECT number, hash FROM watcher_blocks ORDER BY number DESC LIMIT $1`, int64(limit))
	if err != nil {
		return nil, fmt.Errorf("%w: blocks: %w", errStore, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (blockRef, error) {
		var (
			n int64
			h []byte
		)
		if err := row.Scan(&n, &h); err != nil {
			return blockRef{}, err
		}
		if len(h) != common.HashLength {
			return blockRef{}, fmt.Errorf("block %d hash is %d bytes", n, len(h))
		}
		return blockRef{Number: uint64(n), Hash: common.Hash(h)}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: blocks: %w", errStore, err)
	}
	return out, nil
}

// errBlockRange is returned for a block number PostgreSQL's BIGINT cannot
// hold.
var errBlockRange = errors.New("block number above 2^63-1")

// pgBlock converts a block number to a BIGINT.
func pgBlock(n uint64) (int64, error) {
	if n > math.MaxInt64 {
		return 0, fmt.Errorf("%w: %d", errBlockRange, n)
	}
	return int64(n), nil
}

// setCheckpoint stores c, and seq as the record count if it is higher.
func setCheckpoint(ctx context.Context, tx pgx.Tx, c Checkpoint, seq uint64) error {
	b, err := pgBlock(c.Block)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO watcher_checkpoint (id, next_block, next_index, sequence) VALUES (1, $1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET next_block = EXCLUDED.next_block, next_index = EXCLUDED.next_index,
			sequence = GREATEST(watcher_checkpoint.sequence, EXCLUDED.sequence)`,
		b, int64(c.Index), int64(seq))
	return err
}

// apply implements Store: one transaction, as DB.apply.
func (d *PGDB) apply(w write) (Handled, error) {
	var rec Handled
	err := d.update("write", func(ctx context.Context, tx pgx.Tx) error {
		if w.block != nil {
			n, err := pgBlock(w.block.Number)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO watcher_blocks (number, hash) VALUES ($1, $2)
				ON CONFLICT (number) DO UPDATE SET hash = EXCLUDED.hash`, n, w.block.Hash[:]); err != nil {
				return err
			}
		}
		if w.pruneBelow > 0 {
			n, err := pgBlock(w.pruneBelow)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM watcher_blocks WHERE number < $1`, n); err != nil {
				return err
			}
		}
		var seq uint64
		if w.handled != nil {
			var n int64
			err := tx.QueryRow(ctx, `SELECT sequence FROM watcher_checkpoint WHERE id = 1 FOR UPDATE`).Scan(&n)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			rec = *w.handled
			rec.Seq = uint64(n) + 1
			seq = rec.Seq
			val, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO watcher_handled (block_hash, log_index, seq, record) VALUES ($1, $2, $3, $4)
				ON CONFLICT (block_hash, log_index) DO UPDATE SET seq = EXCLUDED.seq, record = EXCLUDED.record`,
				rec.BlockHash[:], int64(rec.Index), int64(rec.Seq), val); err != nil {
				return err
			}
			if w.quarantined != nil {
				q, err := json.Marshal(w.quarantined)
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO watcher_quarantined (block_hash, log_index, record) VALUES ($1, $2, $3)
					ON CONFLICT (block_hash, log_index) DO UPDATE SET record = EXCLUDED.record`,
					rec.BlockHash[:], int64(rec.Index), q); err != nil {
					return err
				}
			}
		}
		if w.pending != nil {
			if err := pgSetPending(ctx, tx, *w.pending); err != nil {
				return err
			}
		}
		for _, s := range w.evidence {
			val, err := s.MarshalJSON()
			if err != nil {
				return err
			}
			h := s.State.StructHash()
			if _, err := tx.Exec(ctx, `INSERT INTO watcher_evidence (game_id, ply, struct_hash, record) VALUES ($1, $2, $3, $4)
				ON CONFLICT (game_id, ply, struct_hash) DO UPDATE SET record = EXCLUDED.record`,
				s.State.GameID[:], int64(s.State.Ply), h[:], val); err != nil {
				return err
			}
		}
		return setCheckpoint(ctx, tx, w.cp, seq)
	})
	if err != nil {
		return Handled{}, err
	}
	return rec, nil
}

// rollback implements Store, as DB.rollback.
func (d *PGDB) rollback(ancestor uint64, dropped []blockRef) error {
	return d.update(fmt.Sprintf("rollback to %d", ancestor), func(ctx context.Context, tx pgx.Tx) error {
		for _, b := range dropped {
			if b.Number <= ancestor {
				continue
			}
			n, err := pgBlock(b.Number)
			if err != nil {
				return err
			}
			for _, q := range []string{
				`DELETE FROM watcher_handled WHERE block_hash = $1`,
				`DELETE FROM watcher_quarantined WHERE block_hash = $1`,
			} {
				if _, err := tx.Exec(ctx, q, b.Hash[:]); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `DELETE FROM watcher_blocks WHERE number = $1`, n); err != nil {
				return err
			}
		}
		return setCheckpoint(ctx, tx, Checkpoint{Block: ancestor + 1}, 0)
	})
}

// action implements Store.
func (d *PGDB) action(claimTx common.Hash) (action, bool, error) {
	as, err := queryJSON[action](d, "action for "+claimTx.Hex(), `SELECT record FROM watcher_actions WHERE claim_tx = $1`, claimTx[:])
	if err != nil || len(as) == 0 {
		return action{}, false, err
	}
	return as[0], true, nil
}

// putAction implements Store.
func (d *PGDB) putAction(claimTx common.Hash, a action) error {
	val, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return d.update("action for "+claimTx.Hex(), func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO watcher_actions (claim_tx, record) VALUES ($1, $2)
			ON CONFLICT (claim_tx) DO UPDATE SET record = EXCLUDED.record`, claimTx[:], val)
		return err
	})
}

// evidence implements Store.
func (d *PGDB) evidence(game common.Hash, from uint32) ([]channel.SignedState, error) {
	return queryJSON[channel.SignedState](d, "evidence of "+game.Hex(),
		`SELECT record FROM watcher_evidence WHERE game_id = $1 AND ply >= $2 ORDER BY ply, struct_hash`, game[:], int64(from))
}

// pendings implements Store.
func (d *PGDB) pendings() ([]pending, error) {
	out, err := queryJSON[pending](d, "pending actions", `SELECT record FROM watcher_pending`)
	if err != nil {
		return nil, err
	}
	sortPendings(out)
	return out, nil
}

// pgSetPending stores p.
func pgSetPending(ctx context.Context, tx pgx.Tx, p pending) error {
	val, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO watcher_pending (claim_tx, record) VALUES ($1, $2)
		ON CONFLICT (claim_tx) DO UPDATE SET record = EXCLUDED.record`, p.Claim[:], val)
	return err
}

// settle implements Store, as DB.settle.
func (d *PGDB) settle(p pending, keep bool, update func(*Handled)) error {
	return d.update("action for "+p.Claim.Hex(), func(ctx context.Context, tx pgx.Tx) error {
		if update != nil {
			var raw []byte
			err := tx.QueryRow(ctx, `SELECT record FROM watcher_handled WHERE block_hash = $1 AND log_index = $2 FOR UPDATE`,
				p.LogBlock[:], int64(p.LogIndex)).Scan(&raw)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
			case err != nil:
				return err
			default:
				var h Handled
				if err := json.Unmarshal(raw, &h); err != nil {
					return err
				}
				seq := h.Seq
				update(&h)
				h.Seq = seq
				val, err := json.Marshal(h)
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `UPDATE watcher_handled SET record = $3 WHERE block_hash = $1 AND log_index = $2`,
					p.LogBlock[:], int64(p.LogIndex), val); err != nil {
					return err
				}
			}
		}
		if keep {
			return pgSetPending(ctx, tx, p)
		}
		_, err := tx.Exec(ctx, `DELETE FROM watcher_pending WHERE claim_tx = $1`, p.Claim[:])
		return err
	})
}

// sortPendings orders pending actions earliest deadline first (then by
// claim), so that the most urgent are tried first.
func sortPendings(ps []pending) {
	slices.SortFunc(ps, func(a, b pending) int {
		if c := cmp.Compare(a.Deadline, b.Deadline); c != 0 {
			return c
		}
		return a.Claim.Cmp(b.Claim)
	})
}

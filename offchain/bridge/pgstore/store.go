package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/channel"
)

// Channel is the LISTEN/NOTIFY channel an Append notifies, with the game
// id ("0x" and 64 hex digits) as payload.
const Channel = "arbiter_bridge_append"

// defaultConnectTimeout bounds a connection attempt when the URL sets no
// connect_timeout.
const defaultConnectTimeout = 10 * time.Second

// Store is a bridge.Store on a PostgreSQL database. Any number of Stores,
// in any number of processes, may share the database; an Append through
// any of them wakes the watchers of all of them.
type Store struct {
	pool   *pgxpool.Pool
	feed   bridge.Feed
	listen *listener
}

// Open connects to the database at url (postgres://… or
// postgresql://…, with pgx's parameters, pool_max_conns among them),
// applies the schema migrations it lacks, and starts listening for
// appends. It fails if the database cannot be reached, so that a bridge
// refuses to start without its store.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout <= 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: connect to %s: %w", describe(cfg), err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{pool: pool}
	s.listen, err = startListener(ctx, cfg.ConnConfig.Copy(), &s.feed)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// describe names the server of cfg for error messages, without the
// password.
func describe(cfg *pgxpool.Config) string {
	return fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}

// Close stops listening and closes every connection.
func (s *Store) Close() error {
	s.listen.close()
	s.pool.Close()
	return nil
}

// CreateGame implements bridge.Store.
func (s *Store) CreateGame(ctx context.Context, g bridge.GameRecord) (bridge.GameRecord, error) {
	if err := bridge.ValidateGame(g); err != nil {
		return bridge.GameRecord{}, err
	}
	stake := g.Stake
	if stake == nil {
		stake = new(big.Int)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO bridge_games (game_id, white, black, stake, move_timeout)
		VALUES ($1, $2, $3, CAST($4::TEXT AS NUMERIC(78, 0)), CAST($5::TEXT AS NUMERIC(20, 0)))
		ON CONFLICT (game_id) DO NOTHING`,
		g.ID[:], g.White[:], g.Black[:], stake.String(), strconv.FormatUint(g.MoveTimeout, 10))
	if err != nil {
		return bridge.GameRecord{}, fmt.Errorf("pgstore: insert game %s: %w", g.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return s.Game(ctx, g.ID) // the first writer's game
	}
	out := g
	out.Stake = new(big.Int).Set(stake)
	return out, nil
}

// Game implements bridge.Store.
func (s *Store) Game(ctx context.Context, id common.Hash) (bridge.GameRecord, error) {
	var white, black []byte
	var stake, timeout string
	err := s.pool.QueryRow(ctx, `SELECT white, black, CAST(stake AS TEXT), CAST(move_timeout AS TEXT)
		FROM bridge_games WHERE game_id = $1`, id[:]).Scan(&white, &black, &stake, &timeout)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return bridge.GameRecord{}, bridge.ErrNotFound
	case err != nil:
		return bridge.GameRecord{}, fmt.Errorf("pgstore: game %s: %w", id, err)
	}
	st, ok := new(big.Int).SetString(stake, 10)
	mt, err := strconv.ParseUint(timeout, 10, 64)
	if !ok || err != nil || len(white) != common.AddressLength || len(black) != common.AddressLength {
		return bridge.GameRecord{}, fmt.Errorf("pgstore: stored game %s is malformed", id)
	}
	return bridge.GameRecord{ID: id, White: common.Address(white), Black: common.Address(black), Stake: st, MoveTimeout: mt}, nil
}

// stateColumns are the columns scanState reads, in order.
const stateColumns = `ply, fen, move, prev_hash, signature, accepted`

// scanState reads one row of stateColumns.
func scanState(id common.Hash, row pgx.Row) (bridge.Record, error) {
	var (
		ply       int64
		fen, move string
		prev, sig []byte
		accepted  int64
	)
	if err := row.Scan(&ply, &fen, &move, &prev, &sig, &accepted); err != nil {
		return bridge.Record{}, err
	}
	if ply < 1 || ply > int64(^uint32(0)) || len(prev) != common.HashLength {
		return bridge.Record{}, fmt.Errorf("pgstore: stored ply %d of %s is malformed", ply, id)
	}
	return bridge.Record{
		State: channel.SignedState{
			State:     channel.State{GameID: id, Ply: uint32(ply), FEN: fen, Move: move, PrevHash: common.Hash(prev)},
			Signature: sig,
		},
		Accepted: time.Unix(0, accepted),
	}, nil
}

// Head implements bridge.Store.
func (s *Store) Head(ctx context.Context, id common.Hash) (bridge.Record, bool, error) {
	rec, err := scanState(id, s.pool.QueryRow(ctx, `SELECT `+stateColumns+`
		FROM bridge_states WHERE game_id = $1 ORDER BY ply DESC LIMIT 1`, id[:]))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return bridge.Record{}, false, nil
	case err != nil:
		return bridge.Record{}, false, fmt.Errorf("pgstore: head of %s: %w", id, err)
	}
	return rec, true, nil
}

// States implements bridge.Store.
func (s *Store) States(ctx context.Context, id common.Hash, from uint32, limit int) ([]bridge.Record, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+stateColumns+`
		FROM bridge_states WHERE game_id = $1 AND ply >= $2 ORDER BY ply LIMIT $3`,
		id[:], int64(max(from, 1)), int64(limit))
	if err != nil {
		return nil, fmt.Errorf("pgstore: states of %s: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (bridge.Record, error) {
		return scanState(id, row)
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: states of %s: %w", id, err)
	}
	return out, nil
}

// appendSQL is Append's compare-and-set, one statement and so one
// transaction: it inserts the state at ply $2 only if ply $2 − 1 is
// stored (the game itself for ply 1), and the primary key (game_id, ply)
// with ON CONFLICT DO NOTHING makes of concurrent inserts of one ply
// exactly one succeed. States are never deleted, so a ply − 1 seen stored
// stays stored. The notification goes out when the insert commits, and
// only then.
const appendSQL = `WITH inserted AS (
	INSERT INTO bridge_states (game_id, ply, fen, move, prev_hash, signature, accepted)
	SELECT $1::BYTEA, $2::BIGINT, $3::TEXT, $4::TEXT, $5::BYTEA, $6::BYTEA, $7::BIGINT
	WHERE ($2::BIGINT = 1 AND EXISTS (SELECT 1 FROM bridge_games WHERE game_id = $1::BYTEA))
	   OR EXISTS (SELECT 1 FROM bridge_states WHERE game_id = $1::BYTEA AND ply = $2::BIGINT - 1)
	ON CONFLICT (game_id, ply) DO NOTHING
	RETURNING game_id
)
SELECT pg_notify('` + Channel + `', '0x' || encode(game_id, 'hex')) FROM inserted`

// Append implements bridge.Store.
func (s *Store) Append(ctx context.Context, rec bridge.Record) error {
	if err := bridge.ValidateRecord(rec); err != nil {
		return err
	}
	st := rec.State.State
	if st.Ply == 0 {
		return fmt.Errorf("%w: ply 0 is the start state", bridge.ErrConflict)
	}
	rows, err := s.pool.Query(ctx, appendSQL,
		st.GameID[:], int64(st.Ply), st.FEN, st.Move, st.PrevHash[:], rec.State.Signature, rec.Accepted.UnixNano())
	if err != nil {
		return fmt.Errorf("pgstore: append ply %d of %s: %w", st.Ply, st.GameID, err)
	}
	inserted := 0
	for rows.Next() {
		inserted++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pgstore: append ply %d of %s: %w", st.Ply, st.GameID, err)
	}
	if inserted == 1 {
		s.feed.Notify(st.GameID) // this instance's watchers need not wait for the round trip
		return nil
	}
	var game bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM bridge_games WHERE game_id = $1)`, st.GameID[:]).Scan(&game); err != nil {
		return fmt.Errorf("pgstore: append ply %d of %s: %w", st.Ply, st.GameID, err)
	}
	if !game {
		return bridge.ErrNotFound
	}
	return fmt.Errorf("%w: ply %d of %s does not follow the stored head", bridge.ErrConflict, st.Ply, st.GameID)
}

// Watch implements bridge.Store: the store's listener wakes the channel
// on every notification for the game, whichever instance appended.
func (s *Store) Watch(ctx context.Context, id common.Hash) (<-chan struct{}, error) {
	return s.feed.Watch(ctx, id), nil
}

package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationFiles are the schema migrations, NNNN_name.sql, applied in
// order of NNNN. A migration, once released, is never edited: a change
// is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one file of migrationFiles.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in order.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("pgstore: migration file %q is not NNNN_name.sql", e.Name())
		}
		sql, err := fs.ReadFile(migrationFiles, path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(sql)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("pgstore: two migrations numbered %d", out[i].version)
		}
	}
	return out, nil
}

// migrateAttempts bounds the re-runs of a migration that lost a race with
// another instance starting at the same time.
const migrateAttempts = 5

// migrate applies the migrations the database lacks, each in its own
// transaction together with its row in bridge_schema_migrations. Bridges
// starting together on a fresh database race benignly: the version row's
// primary key lets one transaction apply a migration, and the others wait
// for it and then skip it (ON CONFLICT DO NOTHING); a transaction that
// trips over another's concurrent CREATE TABLE is re-run.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		var err error
		for range migrateAttempts {
			if err = applyOnce(ctx, pool, m); !retryable(err) {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("pgstore: migration %s: %w", m.name, err)
		}
	}
	return nil
}

// applyOnce applies m unless its version is recorded.
func applyOnce(ctx context.Context, pool *pgxpool.Pool, m migration) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS bridge_schema_migrations (
			version INTEGER PRIMARY KEY,
			name    TEXT    NOT NULL
		)`); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO bridge_schema_migrations (version, name) VALUES ($1, $2)
			ON CONFLICT (version) DO NOTHING`, m.version, m.name)
		if err != nil || tag.RowsAffected() == 0 {
			return err // applied already, or by the transaction we waited for
		}
		_, err = tx.Exec(ctx, m.sql)
		return err
	})
}

// retryable reports whether err is a race with a concurrent migration:
// two CREATE TABLE IF NOT EXISTS of one name both pass the check, and the
// later one fails on the catalog (duplicate object or table, or a unique
// violation on the catalog's index), or a serialization failure.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "23505", "42710", "42P07", "40001":
		return true
	}
	return false
}

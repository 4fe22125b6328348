package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
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

// migrations returns the migrations in directory dir of files, in order.
func migrations(files fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(files, dir)
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
		sql, err := fs.ReadFile(files, path.Join(dir, e.Name()))
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

// migrate applies the bridge's migrations the database lacks.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return Migrate(ctx, pool, migrationFiles, "migrations", "bridge_schema_migrations")
}

// versionTable matches the names Migrate accepts for its version table.
var versionTable = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Migrate applies the migrations in directory dir of files (NNNN_name.sql,
// in order of NNNN) that the database lacks, each in its own transaction
// together with its row in the table named table (created if needed; a
// lower-case SQL identifier). Another component keeping tables in the
// bridge's database (the watcher) uses it with its own files and table.
// Bridges
// starting together on a fresh database race benignly: the version row's
// primary key lets one transaction apply a migration, and the others wait
// for it and then skip it (ON CONFLICT DO NOTHING); a transaction that
// trips over another's concurrent CREATE TABLE is re-run.
func Migrate(ctx context.Context, pool *pgxpool.Pool, files fs.FS, dir, table string) error {
	if !versionTable.MatchString(table) {
		return fmt.Errorf("pgstore: migration table %q is not a lower-case identifier", table)
	}
	ms, err := migrations(files, dir)
	if err != nil {
		return err
	}
	for _, m := range ms {
		var err error
		for range migrateAttempts {
			if err = applyOnce(ctx, pool, table, m); !retryable(err) {
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
func applyOnce(ctx context.Context, pool *pgxpool.Pool, table string, m migration) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+table+` (
			version INTEGER PRIMARY KEY,
			name    TEXT    NOT NULL
		)`); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO `+table+` (version, name) VALUES ($1, $2)
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

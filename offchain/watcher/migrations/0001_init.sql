-- The watcher's tables in the bridge's PostgreSQL database (see
-- offchain/watcher/schema.go for the same content in badger). One fleet
-- of bridges shares them; the holder of the watchtower lease writes them.

-- At most one row: where processing resumes (the next log is the first of
-- block next_block with index next_index or more), and the count of
-- processed-log records ever written.
CREATE TABLE IF NOT EXISTS watcher_checkpoint (
    id         SMALLINT PRIMARY KEY CHECK (id = 1),
    next_block BIGINT   NOT NULL CHECK (next_block >= 0),
    next_index BIGINT   NOT NULL CHECK (next_index BETWEEN 0 AND 4294967295),
    sequence   BIGINT   NOT NULL CHECK (sequence >= 0)
);

-- The hash of each processed block kept to find the common ancestor after
-- a reorganisation (Config.ReorgDepth blocks behind the checkpoint).
CREATE TABLE IF NOT EXISTS watcher_blocks (
    number BIGINT PRIMARY KEY CHECK (number >= 0),
    hash   BYTEA  NOT NULL CHECK (octet_length(hash) = 32)
);

-- One processed arbiter log: its JSON Handled record; seq is the record's
-- Seq, kept as a column for write-order listing.
CREATE TABLE IF NOT EXISTS watcher_handled (
    block_hash BYTEA  NOT NULL CHECK (octet_length(block_hash) = 32),
    log_index  BIGINT NOT NULL CHECK (log_index BETWEEN 0 AND 4294967295),
    seq        BIGINT NOT NULL,
    record     BYTEA  NOT NULL,
    PRIMARY KEY (block_hash, log_index)
);

-- A log that did not decode under the arbiter ABI: JSON Quarantined.
CREATE TABLE IF NOT EXISTS watcher_quarantined (
    block_hash BYTEA  NOT NULL CHECK (octet_length(block_hash) = 32),
    log_index  BIGINT NOT NULL CHECK (log_index BETWEEN 0 AND 4294967295),
    record     BYTEA  NOT NULL,
    PRIMARY KEY (block_hash, log_index)
);

-- The watchtower's signed transaction for a claim, stored before it is
-- sent: JSON action, keyed by the claim's transaction hash.
CREATE TABLE IF NOT EXISTS watcher_actions (
    claim_tx BYTEA PRIMARY KEY CHECK (octet_length(claim_tx) = 32),
    record   BYTEA NOT NULL
);

-- A signed state seen in a claim on chain: channel.SignedState JSON.
CREATE TABLE IF NOT EXISTS watcher_evidence (
    game_id     BYTEA  NOT NULL CHECK (octet_length(game_id) = 32),
    ply         BIGINT NOT NULL CHECK (ply BETWEEN 0 AND 4294967295),
    struct_hash BYTEA  NOT NULL CHECK (octet_length(struct_hash) = 32),
    record      BYTEA  NOT NULL,
    PRIMARY KEY (game_id, ply, struct_hash)
);

-- A refute or answer not yet in a block: JSON pending, keyed by the
-- claim's transaction hash.
CREATE TABLE IF NOT EXISTS watcher_pending (
    claim_tx BYTEA PRIMARY KEY CHECK (octet_length(claim_tx) = 32),
    record   BYTEA NOT NULL
);

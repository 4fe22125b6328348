-- The bridge's games and accepted signed states.

-- One row per game registered by chess_openGame; never changed after.
CREATE TABLE IF NOT EXISTS bridge_games (
    game_id      BYTEA          PRIMARY KEY CHECK (octet_length(game_id) = 32),
    white        BYTEA          NOT NULL CHECK (octet_length(white) = 20),
    black        BYTEA          NOT NULL CHECK (octet_length(black) = 20),
    stake        NUMERIC(78, 0) NOT NULL CHECK (stake >= 0),        -- wei, a uint256
    move_timeout NUMERIC(20, 0) NOT NULL CHECK (move_timeout >= 0)  -- blocks, a uint64
);

-- One row per accepted state; never updated or deleted. The primary key
-- is the unique (game, ply) constraint the compare-and-set append rests on.
CREATE TABLE IF NOT EXISTS bridge_states (
    game_id   BYTEA  NOT NULL REFERENCES bridge_games (game_id),
    ply       BIGINT NOT NULL CHECK (ply BETWEEN 1 AND 4294967295),
    fen       TEXT   NOT NULL,
    move      TEXT   NOT NULL,
    prev_hash BYTEA  NOT NULL CHECK (octet_length(prev_hash) = 32),
    signature BYTEA  NOT NULL CHECK (octet_length(signature) = 65),
    accepted  BIGINT NOT NULL,                                      -- unix nanoseconds
    PRIMARY KEY (game_id, ply)
);

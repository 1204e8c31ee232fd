-- PRISM index schema, version 2: per-project usage of `context` (for `prism stats`).
CREATE TABLE usage (
    id            INTEGER PRIMARY KEY,
    at            REAL NOT NULL,     -- unix time
    kind          TEXT NOT NULL,     -- context | show
    intent        TEXT NOT NULL,
    budget        INTEGER NOT NULL,
    tokens_served INTEGER NOT NULL,  -- tokens of the output
    tokens_saved  INTEGER NOT NULL,  -- whole files of the chosen chunks minus tokens served
    chunks        INTEGER NOT NULL,
    seconds       REAL NOT NULL
);
CREATE INDEX usage_at ON usage(at);

-- PRISM index schema, version 1.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE files (
    id         INTEGER PRIMARY KEY,
    path       TEXT NOT NULL UNIQUE,
    sha256     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    mtime      REAL NOT NULL,
    language   TEXT,
    indexed_at REAL NOT NULL,
    status     TEXT NOT NULL DEFAULT 'indexed',  -- indexed | partial (parsed with warnings)
    warnings   TEXT NOT NULL DEFAULT ''
);

CREATE TABLE chunks (
    id             INTEGER PRIMARY KEY,
    file_id        INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    path           TEXT NOT NULL,
    language       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    name           TEXT NOT NULL,
    qualified_name TEXT NOT NULL,
    signature      TEXT NOT NULL,
    docstring      TEXT NOT NULL,
    start_line     INTEGER NOT NULL,
    end_line       INTEGER NOT NULL,
    content        TEXT NOT NULL,
    content_hash   TEXT NOT NULL,
    tokens         INTEGER NOT NULL,
    parent         TEXT NOT NULL,
    defines        TEXT NOT NULL,  -- JSON arrays
    imports        TEXT NOT NULL,
    calls          TEXT NOT NULL,
    text_hash      TEXT NOT NULL   -- sha256 of the text the embedder sees (embedding cache key)
);
CREATE INDEX chunks_file ON chunks(file_id);
CREATE INDEX chunks_path ON chunks(path);
CREATE INDEX chunks_text_hash ON chunks(text_hash);

-- Who defines, imports and calls which name: the code graph, resolved by name at query time.
CREATE TABLE refs (
    chunk_id INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
    kind     TEXT NOT NULL,  -- defines | imports | calls
    name     TEXT NOT NULL
);
CREATE INDEX refs_name ON refs(name, kind);
CREATE INDEX refs_chunk ON refs(chunk_id);

-- Identifier-split text per chunk; rowid = chunks.id. Columns weighted in bm25().
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    path, symbol, doc, body,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Embedding cache: survives chunk churn, so unchanged text is never embedded twice.
CREATE TABLE embeddings (
    model     TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vector    BLOB NOT NULL,  -- float32, L2-normalised
    PRIMARY KEY (model, text_hash)
) WITHOUT ROWID;

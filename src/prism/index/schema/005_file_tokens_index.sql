-- PRISM index schema, version 5: a covering index for a file's tokens (the sum over its chunks),
-- which every `context` call asks for the files it packs; without it each chunk row is read
-- past its content to reach `tokens`.
CREATE INDEX IF NOT EXISTS chunks_path_tokens ON chunks(path, tokens);

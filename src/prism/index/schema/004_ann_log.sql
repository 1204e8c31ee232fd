-- PRISM index schema, version 3: the change log behind the approximate vector index's delta.
-- Filled only while an approximate index exists (meta key 'ann_log'): chunks deleted since it
-- was built (their ids may come back for other text) and vectors stored since.
CREATE TABLE ann_log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, even after trimming
    chunk_id  INTEGER,  -- a deleted chunk
    text_hash TEXT      -- a newly stored vector
);

CREATE TRIGGER ann_log_chunk_deleted AFTER DELETE ON chunks
WHEN EXISTS (SELECT 1 FROM meta WHERE key = 'ann_log')
BEGIN
    INSERT INTO ann_log(chunk_id) VALUES (OLD.id);
END;

CREATE TRIGGER ann_log_vector_stored AFTER INSERT ON embeddings
WHEN EXISTS (SELECT 1 FROM meta WHERE key = 'ann_log')
BEGIN
    INSERT INTO ann_log(text_hash) VALUES (NEW.text_hash);
END;

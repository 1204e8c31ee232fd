-- PRISM index schema, version 6: each chunk's lower levels' texts as priced at index time
-- (pack/level_texts.py: light, skeleton, signature, each as lines of the level above), so that
-- a pack shows a chosen level without parsing the chunk again. NULL in rows written before:
-- those chunks are rendered from their text when packed, as before; re-indexed files fill it.
ALTER TABLE chunks ADD COLUMN level_texts TEXT;

-- PRISM index schema, version 3: each chunk's degradation levels priced at index time
-- ("TOKENIZER FULL LIGHT SKELETON SIGNATURE" tokens), so that packing chooses levels by arithmetic.
-- NULL in rows written before: those chunks are priced from their text when packed.
ALTER TABLE chunks ADD COLUMN level_tokens TEXT;

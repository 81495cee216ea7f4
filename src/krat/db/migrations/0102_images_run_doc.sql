-- What starting a container reads of an image (its config document and layer directories),
-- as one JSON text written on first use: an image id names immutable content, so the text
-- never goes stale, and a start reads one row instead of five queries and a blob.
ALTER TABLE images ADD COLUMN run_doc TEXT;

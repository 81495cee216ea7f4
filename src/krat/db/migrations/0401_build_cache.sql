-- The build cache: one row per executed build step, keyed by the hash of its inputs
-- (parent key, instruction after substitution, build args it used, source digests).
-- The inputs are kept too, so a miss can say what changed (`krat build --explain`).
CREATE TABLE IF NOT EXISTS build_cache (
    key         TEXT PRIMARY KEY,
    parent      TEXT NOT NULL,
    instruction TEXT NOT NULL,
    args        TEXT NOT NULL,   -- JSON {name: value} of the build args the step used
    sources     TEXT NOT NULL,   -- JSON {context path: digest} of COPY/ADD sources
    result      TEXT NOT NULL,   -- JSON: the layer the step made ({} when none)
    created_at  REAL NOT NULL,
    last_used   REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS build_cache_parent ON build_cache(parent);

-- Base schema. Each area adds its own tables in its own number range:
-- 01xx images and layers, 02xx containers, 03xx networks and volumes,
-- 04xx build cache, 05xx registry.
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

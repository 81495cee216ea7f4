-- Images, their layers and their names (store area, issue 6).
-- An image's id is its config digest; a layer is keyed by its diff_id and counted
-- once per image_layers row that uses it, so its directory goes when the count is 0.
CREATE TABLE IF NOT EXISTS images (
    id              TEXT PRIMARY KEY,            -- sha256:<hex of the config blob>
    manifest_digest TEXT NOT NULL,
    created         TEXT NOT NULL DEFAULT '',    -- the config's RFC 3339 "created"
    size            INTEGER NOT NULL DEFAULT 0,  -- bytes of the uncompressed layer tars
    architecture    TEXT NOT NULL DEFAULT '',
    os              TEXT NOT NULL DEFAULT '',
    parent_id       TEXT,                        -- set by build/commit; hides intermediates
    added           REAL NOT NULL                -- when this store got it (unix time)
);

CREATE TABLE IF NOT EXISTS layers (
    diff_id  TEXT PRIMARY KEY,
    size     INTEGER NOT NULL DEFAULT 0,
    refcount INTEGER NOT NULL DEFAULT 0 CHECK (refcount >= 0)
);

CREATE TABLE IF NOT EXISTS image_layers (
    image_id    TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,                -- 0 = bottom-most
    diff_id     TEXT NOT NULL REFERENCES layers(diff_id),
    blob_digest TEXT NOT NULL,                   -- the (maybe compressed) blob in the manifest
    PRIMARY KEY (image_id, position)
);
CREATE INDEX IF NOT EXISTS image_layers_diff ON image_layers(diff_id);
CREATE INDEX IF NOT EXISTS image_layers_blob ON image_layers(blob_digest);

CREATE TABLE IF NOT EXISTS tags (
    name       TEXT NOT NULL UNIQUE,             -- docker.io/library/busybox:latest
    repository TEXT NOT NULL,                    -- docker.io/library/busybox
    tag        TEXT NOT NULL,
    image_id   TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    added      REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tags_image ON tags(image_id);

CREATE TABLE IF NOT EXISTS repo_digests (
    repository TEXT NOT NULL,                    -- docker.io/library/busybox
    digest     TEXT NOT NULL,                    -- the manifest digest in that repository
    image_id   TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    PRIMARY KEY (repository, digest)
);
CREATE INDEX IF NOT EXISTS repo_digests_image ON repo_digests(image_id);
CREATE INDEX IF NOT EXISTS images_manifest ON images(manifest_digest);

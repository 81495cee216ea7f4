-- Registry area (issue 5). Which repositories of which registry are known to hold a blob
-- (pull and push record them), so a push can mount a layer from a sibling repository
-- instead of uploading it again, as Docker's v2 metadata service does.
CREATE TABLE IF NOT EXISTS registry_blob_sources (
    digest     TEXT NOT NULL,       -- sha256:<hex> of the blob as the registry stores it
    registry   TEXT NOT NULL,       -- host[:port] as in references, e.g. 127.0.0.1:5000
    repository TEXT NOT NULL,       -- path inside the registry, e.g. library/busybox
    seen       REAL NOT NULL,
    PRIMARY KEY (digest, registry, repository)
);

-- Layers stored uncompressed (built, imported) are compressed when pushed; the result is
-- remembered so a second push sends byte-identical blobs without compressing again.
CREATE TABLE IF NOT EXISTS registry_compressed_layers (
    diff_id    TEXT NOT NULL,       -- sha256 of the uncompressed tar
    media_type TEXT NOT NULL,       -- the compressed blob's layer media type
    digest     TEXT NOT NULL,       -- sha256 of the compressed blob (in the content store)
    size       INTEGER NOT NULL,
    PRIMARY KEY (diff_id, media_type)
);

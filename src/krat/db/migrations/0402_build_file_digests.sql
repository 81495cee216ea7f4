-- Content digests of build-context files, reused while a file's stat signature
-- (inode, size, mtime, ctime, mode, owner) is unchanged, so a rebuild does not re-read
-- a large context. A changed signature only means "hash again": the digest alone is
-- what cache keys use, so a touched but unchanged file still hits the cache.
CREATE TABLE IF NOT EXISTS build_file_digests (
    path      TEXT PRIMARY KEY,
    signature TEXT NOT NULL,
    digest    TEXT NOT NULL
);

-- A container's resolved mounts (volumes, binds, tmpfs), decided at create and used at
-- every start; inspect's Mounts come from here.
CREATE TABLE IF NOT EXISTS container_mounts (
    container_id TEXT PRIMARY KEY,
    mounts_json  TEXT NOT NULL
);

-- Containers (engine). A row per container: identity and the user's intent (spec JSON),
-- and a row per container in container_states: what the monitor observed.
CREATE TABLE IF NOT EXISTS containers (
    id         TEXT PRIMARY KEY,               -- 64 lowercase hex
    name       TEXT NOT NULL UNIQUE,           -- without Docker's leading "/"
    image_id   TEXT NOT NULL,                  -- sha256:<hex> of the image config
    image_ref  TEXT NOT NULL,                  -- the reference as the user gave it
    created    TEXT NOT NULL,                  -- RFC 3339, nanoseconds, UTC
    spec       TEXT NOT NULL                   -- engine.spec.ContainerSpec as JSON
);

CREATE TABLE IF NOT EXISTS container_states (
    id             TEXT PRIMARY KEY REFERENCES containers(id) ON DELETE CASCADE,
    status         TEXT NOT NULL DEFAULT 'created'
                   CHECK (status IN ('created','running','paused','restarting','removing','exited','dead')),
    pid            INTEGER NOT NULL DEFAULT 0,
    monitor_pid    INTEGER NOT NULL DEFAULT 0,
    monitor_start  INTEGER NOT NULL DEFAULT 0, -- /proc/<pid>/stat starttime: guards against pid reuse
    exit_code      INTEGER NOT NULL DEFAULT 0,
    error          TEXT NOT NULL DEFAULT '',
    started_at     TEXT NOT NULL DEFAULT '0001-01-01T00:00:00Z',
    finished_at    TEXT NOT NULL DEFAULT '0001-01-01T00:00:00Z',
    oom_killed     INTEGER NOT NULL DEFAULT 0,
    restart_count  INTEGER NOT NULL DEFAULT 0,
    stop_requested INTEGER NOT NULL DEFAULT 0  -- a user stopped it: the restart policy stands down
);

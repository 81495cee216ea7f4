-- Networks, their endpoints (container connections and address leases), published
-- ports and volumes. No foreign keys to containers: the containers table belongs to
-- another area; the services remove these rows with the container.
CREATE TABLE IF NOT EXISTS networks (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    driver       TEXT NOT NULL,                 -- bridge | host | null
    subnet       TEXT,                          -- CIDR; NULL until first use on the default bridge
    gateway      TEXT,
    auto_subnet  INTEGER NOT NULL DEFAULT 1,    -- krat chose it: may move while unused
    internal     INTEGER NOT NULL DEFAULT 0,
    dns          INTEGER NOT NULL DEFAULT 1,    -- name resolution between containers
    labels_json  TEXT NOT NULL DEFAULT '{}',
    options_json TEXT NOT NULL DEFAULT '{}',
    created_at   TEXT NOT NULL
);
-- Docker's three predefined networks. The default bridge resolves no names.
INSERT OR IGNORE INTO networks(id, name, driver, dns, created_at)
VALUES (lower(hex(randomblob(32))), 'bridge', 'bridge', 0, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
       (lower(hex(randomblob(32))), 'host', 'host', 0, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
       (lower(hex(randomblob(32))), 'none', 'null', 0, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

-- A container's network settings as asked at create (mode, ports, dns, hosts).
CREATE TABLE IF NOT EXISTS container_networking (
    container_id TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    config_json  TEXT NOT NULL
);

-- One row per (container, network) connection; ip/mac/veth are set while attached.
-- The partial UNIQUE index makes two concurrent runs unable to lease one address.
CREATE TABLE IF NOT EXISTS endpoints (
    container_id TEXT NOT NULL,
    network_id   TEXT NOT NULL REFERENCES networks(id),
    seq          INTEGER NOT NULL,              -- connection order: eth0, eth1, ...
    aliases_json TEXT NOT NULL DEFAULT '[]',
    requested_ip TEXT,
    requested_mac TEXT,
    ip           TEXT,
    mac          TEXT,
    host_veth    TEXT,
    PRIMARY KEY (container_id, network_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS endpoints_ip ON endpoints(network_id, ip) WHERE ip IS NOT NULL;
CREATE INDEX IF NOT EXISTS endpoints_network ON endpoints(network_id);

CREATE TABLE IF NOT EXISTS port_mappings (
    container_id   TEXT NOT NULL,
    network_id     TEXT NOT NULL,
    host_ip        TEXT NOT NULL,               -- '' = every address
    host_port      INTEGER NOT NULL,
    container_port INTEGER NOT NULL,
    proto          TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS port_mappings_host ON port_mappings(host_ip, host_port, proto);
CREATE INDEX IF NOT EXISTS port_mappings_container ON port_mappings(container_id);

CREATE TABLE IF NOT EXISTS volumes (
    name         TEXT PRIMARY KEY,
    driver       TEXT NOT NULL DEFAULT 'local',
    anonymous    INTEGER NOT NULL DEFAULT 0,
    labels_json  TEXT NOT NULL DEFAULT '{}',
    options_json TEXT NOT NULL DEFAULT '{}',
    created_at   TEXT NOT NULL
);
-- Which containers use a volume: a used volume cannot be removed.
CREATE TABLE IF NOT EXISTS volume_users (
    volume_name  TEXT NOT NULL REFERENCES volumes(name),
    container_id TEXT NOT NULL,
    PRIMARY KEY (volume_name, container_id)
);
CREATE INDEX IF NOT EXISTS volume_users_container ON volume_users(container_id);

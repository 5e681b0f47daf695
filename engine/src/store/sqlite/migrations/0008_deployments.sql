-- Weft store, schema version 8: deployed process versions (`weft deploy`). A server starts new instances
-- of a process on its latest deployment; instances already started keep the version they are pinned to.
-- Deployments are never deleted: they are the record of what was deployed when, and they keep their blobs.
CREATE TABLE deployments (
    process           TEXT    NOT NULL,
    number            INTEGER NOT NULL,
    version           TEXT    NOT NULL,
    definition_file   TEXT    NOT NULL,
    definition_digest TEXT    NOT NULL,
    components        TEXT    NOT NULL, -- JSON: [[key, digest], …] in load order
    layout_digest     TEXT    NOT NULL,
    deployed_ms       INTEGER NOT NULL,
    PRIMARY KEY (process, number)
) WITHOUT ROWID;

-- Which blobs each deployment keeps (a blob goes when neither an instance nor a deployment keeps it).
CREATE TABLE deployment_pins (
    process TEXT    NOT NULL,
    number  INTEGER NOT NULL,
    digest  TEXT    NOT NULL,
    PRIMARY KEY (process, number, digest),
    FOREIGN KEY (process, number) REFERENCES deployments (process, number)
) WITHOUT ROWID;
CREATE INDEX deployment_pins_by_digest ON deployment_pins (digest);

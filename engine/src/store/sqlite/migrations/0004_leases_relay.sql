-- Weft store, schema version 4: leases instead of pid owners; an outbox relay with a cursor per sink
-- instead of one published watermark and a deliveries table; dead letters; `next_due` to find ready
-- instances without reading checkpoints; pins to find blobs no run refers to; the pinned layout.
--
-- The SQL the store runs stays portable (no JSON functions: what it filters on is in columns). This
-- migration reads the old JSON columns once, which only SQLite needs to do.

-- Leases: a random owner id per driver, renewed while it works; `epoch` goes up at every takeover and
-- fences every commit. A hold recorded by the old pid-based `owner` column lapses.
ALTER TABLE instances ADD COLUMN epoch BIGINT NOT NULL DEFAULT 1;
ALTER TABLE instances ADD COLUMN lease_owner TEXT;
ALTER TABLE instances ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE instances DROP COLUMN owner;
CREATE INDEX instances_by_lease_owner ON instances (lease_owner) WHERE lease_owner IS NOT NULL;

-- When an instance next needs a driver: now while it runs, its earliest timer or deadline while it waits.
ALTER TABLE instances ADD COLUMN next_due BIGINT;
UPDATE instances SET next_due = CASE status
    WHEN 'running' THEN updated_ms
    WHEN 'waiting' THEN (
        SELECT min(due) FROM (
            SELECT json_extract(t.value, '$.due_ms') AS due FROM json_each(instances.checkpoint, '$.timers') t
            UNION ALL
            SELECT json_extract(a.value, '$.deadline_ms') FROM json_each(instances.checkpoint, '$.awaits') a
        ) WHERE due IS NOT NULL)
    ELSE NULL END;
CREATE INDEX instances_ready ON instances (next_due) WHERE next_due IS NOT NULL;
CREATE INDEX instances_by_created ON instances (created_ms, id);

-- The pinned layout (step ids, kernel functions, all-of groups, resolved configuration): what `weft
-- status` needs to read a checkpoint. Runs started before have none.
ALTER TABLE instances ADD COLUMN layout_digest TEXT;

-- Which blobs each instance is pinned to.
CREATE TABLE pins (
    instance TEXT NOT NULL REFERENCES instances (id),
    digest   TEXT NOT NULL,
    PRIMARY KEY (instance, digest)
) WITHOUT ROWID;
CREATE INDEX pins_by_digest ON pins (digest);
INSERT INTO pins (instance, digest) SELECT id, definition_digest FROM instances;
INSERT INTO pins (instance, digest)
    SELECT DISTINCT i.id, json_extract(c.value, '$[1]') FROM instances i, json_each(i.components) c
    WHERE json_extract(c.value, '$[1]') <> i.definition_digest;

-- The outbox relay: each event's topic and the sink that publishes it ('default', the command's output,
-- or 'topic:<name>'), and a cursor per sink. Events of a topic migrate with the sink 'topic:<name>'.
ALTER TABLE outbox ADD COLUMN topic TEXT;
ALTER TABLE outbox ADD COLUMN sink TEXT NOT NULL DEFAULT 'default';
UPDATE outbox SET topic = json_extract(cloudevent, '$.wefttopic');
UPDATE outbox SET sink = 'topic:' || topic WHERE topic IS NOT NULL;

CREATE TABLE sink_cursors (
    instance      TEXT NOT NULL REFERENCES instances (id),
    sink          TEXT NOT NULL,
    acked_through BIGINT NOT NULL,     -- every event of this sink up to this outbox position is acknowledged
    PRIMARY KEY (instance, sink)
) WITHOUT ROWID;
-- A sink's cursor stops before its first event that was unpublished, or that was sent to a topic and has
-- no recorded delivery (schema 3 recorded deliveries of webhook topics only, so a published event of a
-- file topic is offered to its file once more: at least once, never lost).
INSERT INTO sink_cursors (instance, sink, acked_through)
    SELECT o.instance, o.sink, coalesce(
        (SELECT min(u.seq) - 1 FROM outbox u, instances i
          WHERE u.instance = o.instance AND u.sink = o.sink AND i.id = o.instance
            AND (u.seq > i.published_len
                 OR (u.topic IS NOT NULL
                     AND NOT EXISTS (SELECT 1 FROM deliveries d
                                      WHERE d.instance = u.instance AND d.event_id = u.event_id)))),
        max(o.seq))
    FROM outbox o GROUP BY o.instance, o.sink;
DROP TABLE deliveries;
ALTER TABLE instances DROP COLUMN published_len;

-- Events a sink refused for good, until redelivered.
CREATE TABLE dead_letters (
    instance TEXT NOT NULL REFERENCES instances (id),
    seq      BIGINT NOT NULL,
    sink     TEXT NOT NULL,
    reason   TEXT NOT NULL,
    at_ms    BIGINT NOT NULL,
    PRIMARY KEY (instance, seq)
) WITHOUT ROWID;

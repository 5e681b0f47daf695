-- Weft store, schema version 5: the inbox. Every event for an instance (a sent event, a cancel request,
-- the event that started it) is appended here before anything runs; the CloudEvent `source` + `id` of
-- each is unique across the store, so that a duplicate is recognised and never runs twice. The run takes
-- its inbox in order at superstep boundaries; its checkpoint says how far (`inbox_taken`, copied to the
-- instance row so that instances with events waiting are found without reading checkpoints).

CREATE TABLE inbox (
    instance    TEXT NOT NULL REFERENCES instances (id),
    seq         BIGINT NOT NULL,       -- the instance's inbox position, from 1
    source      TEXT NOT NULL,         -- the CloudEvent `source`
    event_id    TEXT NOT NULL,         -- the CloudEvent `id`
    kind        TEXT NOT NULL,         -- 'event' (deliver it) or 'cancel'
    event_type  TEXT NOT NULL,
    data        TEXT NOT NULL,         -- JSON
    received_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX inbox_by_instance ON inbox (instance, seq);
CREATE UNIQUE INDEX inbox_by_cloudevent ON inbox (source, event_id);

ALTER TABLE instances ADD COLUMN inbox_len BIGINT NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN inbox_taken BIGINT NOT NULL DEFAULT 0;
CREATE INDEX instances_inbox_waiting ON instances (id) WHERE inbox_len > inbox_taken;

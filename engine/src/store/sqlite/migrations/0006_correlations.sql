-- Weft store, schema version 6: correlation keys. Each open await that has a key (its `correlate`) has a
-- row here, written with the checkpoint that opened or closed it, so that an event addressed to a process
-- with a key finds the instance awaiting it without reading checkpoints.

CREATE TABLE correlations (
    instance TEXT NOT NULL REFERENCES instances (id),
    process  TEXT NOT NULL,
    event    TEXT NOT NULL,                 -- the awaited event type
    key      TEXT NOT NULL
);
CREATE INDEX correlations_by_key ON correlations (process, event, key);
CREATE INDEX correlations_by_instance ON correlations (instance);
ALTER TABLE instances ADD COLUMN correlated BIGINT NOT NULL DEFAULT 0;   -- its rows in `correlations`

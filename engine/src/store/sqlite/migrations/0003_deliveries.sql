-- Weft store, schema version 3: which events their webhook acknowledged.
--
-- An outbox event of a topic whose sink is a webhook is published by handing it to the webhook's worker,
-- which delivers it later; only its acknowledgement (a 2xx response) adds its row here. A published
-- webhook event without a row is delivered again by the instance's next driver.

CREATE TABLE deliveries (
    instance TEXT NOT NULL REFERENCES instances (id),
    event_id TEXT NOT NULL,            -- the CloudEvent id, as in the outbox
    PRIMARY KEY (instance, event_id)
) WITHOUT ROWID;

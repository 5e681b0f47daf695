-- Weft store, schema version 7: indexes that answer the scheduler's and the listing's queries without a
-- scan or a sort, however many instances the store holds (`weft serve` asks for ready instances after
-- every slice it drives).
--
-- Ready instances: the most overdue first, ties by id, read from the index in order.
DROP INDEX instances_ready;
CREATE INDEX instances_ready ON instances (next_due, id) WHERE next_due IS NOT NULL;

-- Listing: newest first, ties by id, with or without a status or process filter, paged by keyset.
DROP INDEX instances_by_created;
DROP INDEX instances_by_status;
CREATE INDEX instances_by_created ON instances (created_ms DESC, id);
CREATE INDEX instances_by_status ON instances (status, created_ms DESC, id);
CREATE INDEX instances_by_process ON instances (process, created_ms DESC, id);

-- The index of due intents was partial on state = 'pending' alone, so every single-intent update — finish_reserve,
-- defer_intent, fail_intent, cancel_order, finish_ship, finish_release: WHERE order_id = $1 AND kind = $2 AND
-- state = 'pending' — could use it too, and with the generic plan PL/pgSQL caches the planner did: the partial index
-- looked tiny, so it walked every pending intent (and the dead entries of finished ones) to find one row by its
-- order id instead of taking the primary key. One update cost O(backlog): a breaker-open create slowed from ~0.1 ms
-- to several ms as deferred intents piled up, and a 10,000-intent drain did ~10,000 × 10,000 / 2 index steps.
--
-- With `next_attempt_at IS NOT NULL` in the predicate (always true, the column is NOT NULL), the index can serve only
-- queries that constrain next_attempt_at: the reconciler's claim (`next_attempt_at <= now()` proves it) and the
-- backlog count (which says it explicitly). Single-intent updates take the primary key.
CREATE INDEX inventory_intents_due_v2 ON inventory_intents (next_attempt_at)
    WHERE state = 'pending' AND next_attempt_at IS NOT NULL;
DROP INDEX inventory_intents_due;
ALTER INDEX inventory_intents_due_v2 RENAME TO inventory_intents_due;

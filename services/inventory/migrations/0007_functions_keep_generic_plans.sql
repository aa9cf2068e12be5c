-- Every PL/pgSQL function plans its statements once per session (generic plans), without sequential scans.
--
-- PL/pgSQL caches a plan per statement, but for a statement with parameters PostgreSQL makes a custom plan for
-- each of the first five calls and then keeps making one whenever the generic plan's estimate is dearer than the
-- custom plans' average. `sku = ANY (p_skus)` and `unnest(p_skus, p_quantities)` are: a custom plan knows the
-- array holds 2 elements, the generic plan assumes 10. So reserve_stock planned its statements again on every
-- call: `perf` of one pgbench client running it (2026-12-06) put `GetCachedPlan` at 27 % and the planner at 22 %
-- of the backend's CPU, and forcing the generic plans took it from 651 / 662 to 403 / 369 µs of CPU a call
-- (+50 % calls per second). The generic plans are the custom plans' shapes (index scans by key; auto_explain).
--
-- `enable_seqscan = off` makes those plans safe to keep whatever the tables held when they were made (0006 did this
-- for reserve_stock_batch alone): every row these functions touch is found by key.
--
-- A function's settings are part of its definition: CREATE OR REPLACE FUNCTION without a SET clause drops them, so
-- a later migration that replaces one of these must restate both (a functional test checks every function).
ALTER FUNCTION reserve_stock(uuid, text[], integer[])
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION reserve_stock_batch(uuid[], integer[], text[], integer[])
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION reservation_replay(uuid, text[], integer[])
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION reservation_json(uuid)
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION commit_reservation(uuid)
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION release_reservation(uuid)
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;

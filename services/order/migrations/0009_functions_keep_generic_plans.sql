-- Every PL/pgSQL function plans its statements once per session (generic plans), without sequential scans.
--
-- PL/pgSQL caches a plan per statement, but for a statement with parameters PostgreSQL makes a custom plan for
-- each of the first five calls and then keeps making one whenever the generic plan's estimate is dearer than the
-- custom plans' average. `= ANY (p_ids)` and `unnest(p_ids)` are: a custom plan knows the array holds 2 elements,
-- the generic plan assumes 10. So the batch functions planned their statements again on every call: `perf` of the
-- services' backends at 1,000 orders/s (2026-12-06) put `GetCachedPlan` at 14 % and the planner at 12 % of
-- order_db's CPU; with the generic plans forced, 2.5 % and nothing. The generic plans are the custom plans'
-- shapes (index scans by key; auto_explain of every statement of the batch and single paths).
--
-- `enable_seqscan = off` makes those plans safe to keep whatever the tables held when they were made: every row
-- these functions touch is found by key, and a generic plan made on a fresh stack's small tables would otherwise
-- keep a sequential scan for the session's life (0008 did this for finish_reserve_batch alone).
--
-- A function's settings are part of its definition: CREATE OR REPLACE FUNCTION without a SET clause drops them, so
-- a later migration that replaces one of these must restate both (a functional test checks every function).
ALTER FUNCTION create_order(text, text, uuid, text, jsonb, integer)
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION create_order_deferred(text, text, uuid, text, jsonb, integer, integer, text)
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION create_order_batch(text[], text[], uuid[], text[], jsonb[], integer[])
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION existing_key_answer(text, text, integer)
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION finish_reserve(uuid, boolean, jsonb, bigint, text, integer, text)
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION finish_reserve_batch(uuid[], boolean[], jsonb[], bigint[], text[], integer[], text[])
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION defer_intent(uuid, text, text, integer)
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION start_ship(uuid, integer)
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION finish_ship(uuid)
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION cancel_order(uuid, integer)
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION order_json(uuid)
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION require_equal_lengths(text, integer[])
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;

-- reserve_stock_batch plans without sequential scans. PL/pgSQL keeps the generic plans it makes the first time a
-- session runs the batch; on a fresh stack the catalog has a few dozen products, and the plans made then read
-- `products` whole for the unknown-sku check and for the stock update (auto_explain, 2026-12-06). That costs nothing
-- for 50 products and a full scan per batch for 10,000, for as long as the session lives. Every row the function
-- touches is found through an index (products and reservations by primary key), so it loses nothing on a small
-- catalog. order_db's finish_reserve_batch (0008) does the same; the body is unchanged.
ALTER FUNCTION reserve_stock_batch(uuid[], integer[], text[], integer[]) SET enable_seqscan = off;

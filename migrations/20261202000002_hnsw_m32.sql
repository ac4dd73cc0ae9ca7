-- Denser HNSW graph: profile queries sit among many near-tied items, and at 100k items
-- m = 16 / ef_construction = 64 reached recall@10 0.95 at ef_search 200, while
-- m = 32 / ef_construction = 128 reaches 0.98 (BENCHMARKS.md, "Recommend path").
-- The price is a ~4x slower index build and ~4% more index size.
DROP INDEX IF EXISTS items_embedding_hnsw;
CREATE INDEX items_embedding_hnsw ON items USING hnsw (embedding vector_cosine_ops)
    WITH (m = 32, ef_construction = 128);

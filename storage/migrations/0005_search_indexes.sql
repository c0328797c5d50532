-- Substring search over names and errors (`GET /api/runs?q=`, `name=`) through trigram indexes: a search
-- that matches nothing answers in milliseconds instead of scanning every run (bench/list_runs.py).
-- pg_trgm ships with PostgreSQL's contrib and is a trusted extension (a database owner may create it);
-- where it is missing the indexes are skipped and search scans, slower but correct.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): run search will scan', SQLERRM;
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX runs_name_trgm_idx ON runs USING gin (name gin_trgm_ops);
        CREATE INDEX runs_error_trgm_idx ON runs USING gin (error gin_trgm_ops);
    END IF;
END $$;

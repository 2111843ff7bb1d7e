-- SPDX-License-Identifier: MIT
--
-- bench/pg-waits.sql: samples pg_stat_activity while a benchmark runs and prints what the
-- client backends of the database chat were doing, as a share of the samples:
--
--   psql -X -v samples=150 -v interval=0.1 -v app=chatd -f bench/pg-waits.sql chat
--
-- Only the backends whose application_name is :app are counted (chatd's connections say
-- "chatd", pgbench's "pgbench").
-- "active" with no wait event is a backend on the CPU (or waiting for it); "idle in
-- transaction" is a transaction waiting for its client's next statement (a round trip
-- through the client, inside the transaction); "idle" is a connection with no work.
-- pg_stat_clear_snapshot() makes each sample read the current state (otherwise a
-- transaction sees one snapshot of the activity).
\set ON_ERROR_STOP 1
CREATE TEMP TABLE waits (sample int, state text, wait text);
-- psql does not expand variables inside the DO body: they go through settings.
SELECT set_config('bench.samples', :'samples', false), set_config('bench.interval', :'interval', false),
       set_config('bench.app', :'app', false) \g /dev/null
DO $$
DECLARE
	i int;
BEGIN
	FOR i IN 1 .. current_setting('bench.samples')::int LOOP
		PERFORM pg_stat_clear_snapshot();
		INSERT INTO pg_temp.waits
		SELECT i, coalesce(state, '?'),
		       coalesce(wait_event_type || ':' || wait_event, '(cpu)')
		FROM pg_stat_activity
		WHERE datname = current_database() AND backend_type = 'client backend'
		  AND application_name = current_setting('bench.app') AND pid <> pg_backend_pid();
		PERFORM pg_sleep(current_setting('bench.interval')::float8);
	END LOOP;
END
$$;
SELECT state, wait,
       round(count(*)::numeric / (SELECT count(DISTINCT sample) FROM waits), 2) AS backends,
       round(100.0 * count(*) / (SELECT count(*) FROM waits), 1) AS pct
FROM waits GROUP BY state, wait ORDER BY count(*) DESC;

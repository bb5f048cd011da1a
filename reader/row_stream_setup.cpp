#include "reader/row_stream_setup.hpp"

#include "common/json_writer.hpp"

namespace deltastream::reader {

namespace {

constexpr const char* set_input_sql = "SELECT set_config('deltastream.input', $1, false)";

// Its input: {"publication", "name", "tables": [{"table", "columns"?, "where"?}]}.
constexpr const char* create_block = R"SQL(
DO $deltastream$
DECLARE
  spec CONSTANT jsonb := NULLIF(current_setting('deltastream.input', true), '')::jsonb;
  marker CONSTANT text := 'deltastream row stream';
  pub text;
  item jsonb;
  rel oid;
  rels oid[] := '{}';
  qualified text;
  identity "char";
  key_columns text[];
  all_columns text[];
  listed text[];
  missing text;
  parts text[] := '{}';
  first_column text;
  problem text;
  problem_detail text;
BEGIN
  IF spec IS NULL THEN
    RAISE EXCEPTION 'the stream''s definition was lost with the connection to PostgreSQL; try again'
      USING ERRCODE = 'connection_failure';
  END IF;
  -- A row filter is pasted as text: read it as PostgreSQL reads it by default.
  PERFORM set_config('standard_conforming_strings', 'on', true);
  pub := spec->>'publication';
  IF EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = pub) THEN
    RAISE EXCEPTION 'a stream named "%" exists', spec->>'name' USING ERRCODE = 'duplicate_object';
  END IF;
  IF EXISTS (SELECT FROM pg_publication WHERE pubname = pub) THEN
    IF coalesce(obj_description((SELECT oid FROM pg_publication WHERE pubname = pub), 'pg_publication'), '')
         NOT LIKE marker || '%' THEN
      RAISE EXCEPTION 'publication "%" exists and is not a deltastream stream''s: choose another name', pub
        USING ERRCODE = 'duplicate_object';
    END IF;
    EXECUTE format('DROP PUBLICATION %I', pub);  -- left by a drop that was cut short
  END IF;
  FOR item IN SELECT value FROM jsonb_array_elements(spec->'tables') LOOP
    rel := to_regclass(item->>'table');
    IF rel IS NULL THEN
      RAISE EXCEPTION 'table "%" does not exist', item->>'table' USING ERRCODE = 'undefined_table';
    END IF;
    SELECT format('%I.%I', n.nspname, c.relname), c.relreplident INTO qualified, identity
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = rel AND c.relkind IN ('r', 'p');
    IF NOT FOUND THEN
      RAISE EXCEPTION '"%" is not a table', item->>'table' USING ERRCODE = 'wrong_object_type';
    END IF;
    IF rel = ANY (rels) THEN
      RAISE EXCEPTION 'table % is named twice', qualified USING ERRCODE = 'invalid_parameter_value';
    END IF;
    rels := rels || rel;
    all_columns := ARRAY(SELECT attname::text FROM pg_attribute
                         WHERE attrelid = rel AND attnum > 0 AND NOT attisdropped ORDER BY attnum);
    key_columns := CASE WHEN identity = 'f' THEN all_columns ELSE ARRAY(
      SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
      WHERE i.indrelid = rel AND ((identity = 'd' AND i.indisprimary) OR (identity = 'i' AND i.indisreplident))
      ORDER BY a.attnum) END;
    IF identity <> 'f' AND cardinality(key_columns) = 0 THEN
      RAISE EXCEPTION 'table % has no replica identity: PostgreSQL would refuse every UPDATE and DELETE of it '
                      'while a stream published them', qualified
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = format('Give it a primary key, or ALTER TABLE %s REPLICA IDENTITY FULL.', qualified);
    END IF;
    listed := NULL;
    IF item ? 'columns' THEN
      listed := ARRAY(SELECT jsonb_array_elements_text(item->'columns'));
      SELECT string_agg(format('%I', l), ', ') INTO missing FROM unnest(listed) l WHERE l <> ALL (all_columns);
      IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'table % has no column %', qualified, missing USING ERRCODE = 'undefined_column';
      END IF;
      SELECT string_agg(format('%I', k), ', ') INTO missing FROM unnest(key_columns) k WHERE k <> ALL (listed);
      IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'the columns of table % leave out %, of its replica identity: PostgreSQL would refuse '
                        'every UPDATE and DELETE of it while a stream published them', qualified, missing
          USING ERRCODE = 'object_not_in_prerequisite_state',
                HINT = CASE WHEN identity = 'f' THEN 'Under REPLICA IDENTITY FULL, list every column or leave "columns" out.'
                            ELSE 'Add them to "columns".' END;
      END IF;
    END IF;
    parts := parts || format('TABLE %s%s%s', qualified,
      CASE WHEN listed IS NULL THEN '' ELSE format(' (%s)', (SELECT string_agg(format('%I', l), ', ') FROM unnest(listed) l)) END,
      CASE WHEN item ? 'where' THEN format(' WHERE (%s)', item->>'where') ELSE '' END);
  END LOOP;
  EXECUTE format('CREATE PUBLICATION %I FOR %s', pub, array_to_string(parts, ', '));
  EXECUTE format('COMMENT ON PUBLICATION %I IS %L', pub, marker);
  -- A row filter may use only the replica identity's columns (PostgreSQL's parse names them).
  FOR qualified, missing, key_columns IN
    SELECT format('%I.%I', n.nspname, c.relname),
           (SELECT string_agg(DISTINCT format('%I', a.attname), ', ')
              FROM regexp_matches(r.prqual::text, ':varattno (\d+)', 'g') m
              JOIN pg_attribute a ON a.attrelid = r.prrelid AND a.attnum = m[1]::int2
             WHERE c.relreplident <> 'f' AND NOT EXISTS (
               SELECT FROM pg_index i WHERE i.indrelid = r.prrelid AND a.attnum = ANY (i.indkey)
                 AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident)))),
           NULL
    FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid
    JOIN pg_class c ON c.oid = r.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE p.pubname = pub AND r.prqual IS NOT NULL
  LOOP
    IF missing IS NOT NULL THEN
      RAISE EXCEPTION 'the row filter of table % uses %, outside its replica identity: PostgreSQL would refuse '
                      'every UPDATE and DELETE of it while a stream published them', qualified, missing
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = format('ALTER TABLE %s REPLICA IDENTITY FULL, or filter on the columns of its primary key.', qualified);
    END IF;
  END LOOP;
  -- The last word is PostgreSQL's own: EXPLAIN checks an UPDATE and a DELETE as it would
  -- run them (no row is touched, no trigger fires).
  FOREACH rel IN ARRAY rels LOOP
    SELECT attname INTO first_column FROM pg_attribute WHERE attrelid = rel AND attnum > 0 AND NOT attisdropped
    ORDER BY attnum LIMIT 1;
    BEGIN
      IF first_column IS NOT NULL THEN
        EXECUTE format('EXPLAIN UPDATE %s SET %I = %I WHERE false', rel::regclass, first_column, first_column);
      END IF;
      EXECUTE format('EXPLAIN DELETE FROM %s WHERE false', rel::regclass);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS problem = MESSAGE_TEXT, problem_detail = PG_EXCEPTION_DETAIL;
      RAISE EXCEPTION '%: %', problem, problem_detail
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = format('A stream must not make PostgreSQL refuse writes: ALTER TABLE %s REPLICA IDENTITY FULL, '
                            'or keep the row filter and columns to its primary key.', rel::regclass);
    END;
  END LOOP;
END
$deltastream$)SQL";

// A block whose input is the JSON object `input`; one lost with its connection (the
// DO sent again on a new one) is a connection failure, not the client's.
#define INPUT_BLOCK_START                                                                    \
  "\nDO $deltastream$\nDECLARE\n"                                                            \
  "  input CONSTANT jsonb := NULLIF(current_setting('deltastream.input', true), '')::jsonb;\n" \
  "BEGIN\n"                                                                                  \
  "  IF input IS NULL THEN\n"                                                                \
  "    RAISE EXCEPTION 'the request''s input was lost with the connection to PostgreSQL; "  \
  "try again'\n      USING ERRCODE = 'connection_failure';\n"                               \
  "  END IF;"
#define INPUT_BLOCK_END "END\n$deltastream$"

constexpr const char* record_start_block = INPUT_BLOCK_START R"SQL(
  IF EXISTS (SELECT FROM pg_publication WHERE pubname = input->>'publication') THEN
    EXECUTE format('COMMENT ON PUBLICATION %I IS %L', input->>'publication',
                   'deltastream row stream, created at ' || (input->>'lsn'));
  END IF;
)SQL" INPUT_BLOCK_END;

constexpr const char* remove_orphan_block = INPUT_BLOCK_START R"SQL(
  IF NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = input->>'publication') THEN
    EXECUTE format('DROP PUBLICATION IF EXISTS %I', input->>'publication');
  END IF;
)SQL" INPUT_BLOCK_END;

constexpr const char* drop_block = INPUT_BLOCK_START R"SQL(
  IF NOT EXISTS (SELECT FROM pg_replication_slots
                 WHERE slot_name = input->>'publication' AND database = current_database()) THEN
    RAISE EXCEPTION 'no such stream "%"', input->>'publication' USING ERRCODE = 'no_data_found';
  END IF;
  -- The publication first: dropping a slot cannot be rolled back, dropping a publication
  -- can, with the rest, when the slot's drop fails (still active: 55006).
  EXECUTE format('DROP PUBLICATION IF EXISTS %I', input->>'publication');
  PERFORM pg_drop_replication_slot(input->>'publication');
)SQL" INPUT_BLOCK_END;

std::string publication_input(const std::string& publication) {
  return json_object().add("publication", publication).str();
}

}  // namespace

void row_stream_setup::run(std::string what, std::string setting, const char* block, done_function done) {
  // Both go to the same connection, one after the other (the queue keeps its order).
  sql_.run(what + " (input)", set_input_sql, {std::move(setting)}, [](sql_answer) {});
  sql_.run(std::move(what), block, {}, [done = std::move(done)](sql_answer answer) {
    if (done) done(std::move(answer.error));
  });
}

void row_stream_setup::create(const std::string& definition, done_function done) {
  run("create row stream publication", definition, create_block, std::move(done));
}

void row_stream_setup::record_start(const std::string& publication, lsn start) {
  run("note row stream start", json_object().add("publication", publication).add("lsn", start.to_string()).str(),
      record_start_block, nullptr);
}

void row_stream_setup::remove_orphan(const std::string& publication) {
  run("remove row stream publication", publication_input(publication), remove_orphan_block, nullptr);
}

void row_stream_setup::drop(const std::string& stream, done_function done) {
  run("drop row stream", publication_input(stream), drop_block, std::move(done));
}

}  // namespace deltastream::reader

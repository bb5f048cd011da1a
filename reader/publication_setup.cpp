#include "reader/publication_setup.hpp"

namespace deltastream::reader {

namespace {

// A DO block takes no parameters: the name, a plain identifier (valid_name), goes in as
// a literal, and every identifier in the statements it runs is quoted by format('%I').
constexpr const char* setup_sql = R"SQL(
DO $deltastream$
DECLARE
  pub CONSTANT text := '%NAME%';
  keyed CONSTANT text := '%NAME%_keyed';
  managed CONSTANT text := 'deltastream: UPDATEs and DELETEs of the tables with a replica identity';
  unkeyed text;
  item record;
BEGIN
  IF NOT EXISTS (SELECT FROM pg_publication WHERE pubname = pub) THEN
    EXECUTE format('CREATE PUBLICATION %I FOR ALL TABLES WITH (publish = %L)', pub, 'insert');
    EXECUTE format('CREATE PUBLICATION %I WITH (publish = %L)', keyed, 'update, delete');
    EXECUTE format('COMMENT ON PUBLICATION %I IS %L', keyed, managed);
  END IF;
  IF EXISTS (SELECT FROM pg_publication p
             WHERE p.pubname = keyed AND obj_description(p.oid, 'pg_publication') = managed) THEN
    FOR item IN
      SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND c.relpersistence = 'p'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
        AND (c.relreplident = 'f' OR EXISTS (
              SELECT FROM pg_index i WHERE i.indrelid = c.oid
                AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))))
        AND NOT EXISTS (SELECT FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid
                        WHERE p.pubname = keyed AND r.prrelid = c.oid)
    LOOP
      EXECUTE format('ALTER PUBLICATION %I ADD TABLE %I.%I', keyed, item.nspname, item.relname);
    END LOOP;
  END IF;
  SELECT string_agg(DISTINCT format('%I.%I', t.schemaname, t.tablename), ', ') INTO unkeyed
  FROM pg_publication p
  JOIN pg_publication_tables t ON t.pubname = p.pubname
  JOIN pg_namespace n ON n.nspname = t.schemaname
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.tablename
  WHERE p.pubname IN (pub, keyed) AND (p.pubupdate OR p.pubdelete)
    AND NOT (c.relreplident = 'f' OR EXISTS (
          SELECT FROM pg_index i WHERE i.indrelid = c.oid
            AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))));
  IF unkeyed IS NOT NULL THEN
    RAISE EXCEPTION 'publication "%" publishes UPDATEs and DELETEs of tables without a replica identity: %',
                    pub, unkeyed
      USING HINT = 'PostgreSQL refuses every UPDATE and DELETE on them while it does. Give each a primary '
                   'key or ALTER TABLE ... REPLICA IDENTITY FULL, or take it out of the publication, or '
                   'drop the publication and let deltastream create its own';
  END IF;
END
$deltastream$)SQL";

}  // namespace

bool publication_setup::valid_name(std::string_view name) {
  if (name.empty() || name.size() > 57) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || c == '_';
    if (!letter && (i == 0 || c < '0' || c > '9')) return false;
  }
  return true;
}

void publication_setup::prepare(std::function<void(std::optional<pg_error>)> done) {
  std::string sql = setup_sql;
  for (auto at = sql.find("%NAME%"); at != std::string::npos; at = sql.find("%NAME%", at)) {
    sql.replace(at, 6, name_);
  }
  sql_.run("prepare publication " + name_, std::move(sql), {},
           [done = std::move(done)](sql_answer answer) { done(std::move(answer.error)); });
}

}  // namespace deltastream::reader

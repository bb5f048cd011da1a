-- The tables and types of the pgoutput/wal2json comparison (record.py and
-- tests/integration/test_pgoutput.py run this, then changes.sql).
DROP SCHEMA IF EXISTS golden CASCADE;
DROP SCHEMA IF EXISTS golden_hidden CASCADE;
DROP TYPE IF EXISTS public.golden_level CASCADE;
CREATE SCHEMA golden;
CREATE TYPE public.golden_level AS ENUM ('low', 'high');  -- on search_path: not qualified
CREATE SCHEMA golden_hidden;  -- not on search_path: format_type qualifies its types
CREATE TYPE golden.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE golden_hidden.color AS ENUM ('red', 'green');
CREATE TYPE golden."Quoted Kind" AS ENUM ('a b', 'c"d');
CREATE DOMAIN golden.positive AS integer CHECK (VALUE > 0);
CREATE TYPE golden.pair AS (label text, amount numeric);

CREATE TABLE golden.everything (
  id serial PRIMARY KEY,
  small smallint, regular integer, big bigint, num numeric, money_num numeric(10,2),
  real_num real, double_num double precision, flag boolean,
  txt text, vc varchar(30), ch char(5), raw bytea, doc json, docb jsonb, ident uuid,
  day date, clock time(3), clock_tz timetz, moment timestamp(3), moment_tz timestamptz,
  span interval, ints integer[], texts text[], address inet, feeling golden.mood,
  colour golden_hidden.color, quoted golden."Quoted Kind", quoted_list golden."Quoted Kind"[],
  positive golden.positive, level public.golden_level, pair golden.pair, object_id oid, cash money, "Weird ""Col""" text
);
CREATE TABLE golden.big_docs (id integer PRIMARY KEY, note text, body text);
ALTER TABLE golden.big_docs ALTER COLUMN body SET STORAGE EXTERNAL;  -- TOASTed, not compressed
CREATE TABLE golden.full_identity (id integer PRIMARY KEY, name text, body text);
ALTER TABLE golden.full_identity REPLICA IDENTITY FULL;
ALTER TABLE golden.full_identity ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE TABLE golden.no_identity (id integer, name text);
ALTER TABLE golden.no_identity REPLICA IDENTITY NOTHING;
CREATE TABLE golden.no_key (id integer, name text);  -- default identity, no primary key
CREATE TABLE golden.by_index (code text NOT NULL, name text, extra integer);
CREATE UNIQUE INDEX by_index_code ON golden.by_index (code);
ALTER TABLE golden.by_index REPLICA IDENTITY USING INDEX by_index_code;
CREATE TABLE golden.composite_key (region text, num integer, name text, PRIMARY KEY (region, num));
CREATE TABLE golden."Mixed Case" ("Id" integer PRIMARY KEY, "Value" text);
CREATE TABLE golden.reshaped (id integer PRIMARY KEY, first text, second text);

-- The quickstart's demo data (only in the PostgreSQL the quickstart starts itself): the
-- tables the README's walk-through reads, with a few rows. Run again, it adds nothing.
CREATE TABLE IF NOT EXISTS customers (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  email text
);
CREATE TABLE IF NOT EXISTS orders (
  id serial PRIMARY KEY,
  customer text NOT NULL REFERENCES customers (name),
  total numeric(10, 2) NOT NULL,
  meta json
);
INSERT INTO customers (name, email)
SELECT * FROM (VALUES ('ada', 'ada@example.com'), ('bob', 'bob@example.com'), ('cy', NULL)) AS v
WHERE NOT EXISTS (SELECT FROM customers);
INSERT INTO orders (customer, total, meta)
SELECT customer, total, meta::json
FROM (VALUES ('ada', 12.50, '{"gift":true}'), ('bob', 3.10, NULL), ('ada', 7.00, '{"note":"fragile"}'))
  AS v (customer, total, meta)
WHERE NOT EXISTS (SELECT FROM orders);

-- Scratch tables for the COPY + upsert bound: staging shaped as books.stg_customers and a copy
-- of books.customers, each with its columns, defaults, identity, checks and indexes.
DROP SCHEMA IF EXISTS bench_bound CASCADE;
CREATE SCHEMA bench_bound;
CREATE TABLE bench_bound.stg_customers (LIKE books.stg_customers INCLUDING ALL);
CREATE TABLE bench_bound.customers (LIKE books.customers INCLUDING ALL);

-- The product's staging is UNLOGGED: so is the bound's.
ALTER TABLE bench_bound.stg_customers SET UNLOGGED;

"""Development tooling: benchmark, demo, local Airflow, throwaway PostgreSQL. Not shipped."""

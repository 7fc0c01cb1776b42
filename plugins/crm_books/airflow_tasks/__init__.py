"""The only modules that read an Airflow context: the DAGs' task bodies."""

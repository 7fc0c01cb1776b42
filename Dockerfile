# The project image: official Airflow 3.3 (Python 3.11, the lock file's interpreter) plus the
# resolved lock file and the project's DAGs, library and SQL. docker-compose.yaml builds it once
# and runs every Airflow service and the sandbox CRM from it.
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

# The lock pins apache-airflow to the same version as the base image, so installing it keeps
# Airflow in place and only adds the project's dependencies (installed as the airflow user,
# as the official image expects).
USER airflow
COPY --chown=airflow:root requirements/lock.txt /requirements/lock.txt
RUN pip install --no-cache-dir -r /requirements/lock.txt

# Copied for deployments without bind mounts; docker-compose.yaml mounts the live folders on top.
COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root include/ /opt/airflow/include/

# `python -m crm_books ...` (init, sandbox) needs the library on the path outside Airflow too;
# CRM_BOOKS_HOME makes the library find include/sql and data/ under /opt/airflow.
ENV PYTHONPATH=/opt/airflow/plugins \
    CRM_BOOKS_HOME=/opt/airflow \
    GX_ANALYTICS_ENABLED=False

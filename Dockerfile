# The project image: official Airflow 3.3 (Python 3.11, the locks' interpreter) plus the runtime
# lock and the project's DAGs, library and SQL; no tests, dev tools or test libraries.
# Targets: `airflow` (the default, every Airflow service of docker-compose.yaml) and `sandbox`
# (the same plus the sandbox CRM package, used only by the crm-sandbox service).
# AIRFLOW_IMAGE_REPO names another image with the official one's layout, e.g. the offline
# stand-in `make image-offline` builds (docs/image.md).
ARG AIRFLOW_IMAGE_REPO=apache/airflow
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM ${AIRFLOW_IMAGE_REPO}:${AIRFLOW_VERSION}-python${PYTHON_VERSION} AS runtime

# The lock pins apache-airflow to the same version as the base image, so installing it keeps
# Airflow in place and only adds the project's dependencies (installed as the airflow user,
# as the official image expects).
USER airflow
COPY --chown=airflow:root requirements/runtime.txt /requirements/runtime.txt
RUN pip install --no-cache-dir -r /requirements/runtime.txt

# Copied for deployments without bind mounts; docker-compose.yaml mounts the live folders on top.
COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root include/ /opt/airflow/include/

# `python -m crm_books ...` (migrate, documents) needs the library on the path outside Airflow
# too; CRM_BOOKS_HOME makes the library find include/sql and data/ under /opt/airflow.
ENV PYTHONPATH=/opt/airflow/plugins \
    CRM_BOOKS_HOME=/opt/airflow \
    GX_ANALYTICS_ENABLED=False

# The sandbox CRM (`python -m zoho_sandbox serve`) lives outside the shipped library, so only
# this target carries it, in its own folder on the path.
FROM runtime AS sandbox
COPY --chown=airflow:root zoho_sandbox/ /opt/crm-books-sandbox/zoho_sandbox/
ENV PYTHONPATH=/opt/airflow/plugins:/opt/crm-books-sandbox

# Last, so a plain `docker build .` makes the worker image.
FROM runtime AS airflow

"""`make bench`: a timed full and 1 %-incremental crm_books_sync, a row-by-row baseline and the workflow.

The sandbox CRM runs in its own process and is read over loopback HTTP. The sync's steps run as the
DAG's tasks would: the two extract tasks in two processes at once (``--extract processes``; or two
threads, or one after the other), and the mapped chunk tasks (``transform_chunk``,
``validate_chunk``) in a pool of worker processes, ``--chunk-workers`` chunks at a time, as an
executor spreads a mapped task's instances over its slots. Each phase reports wall seconds,
records/s, CPU seconds and the peak resident memory of this process plus its workers during the
phase (a sampling thread sums the PSS of the process and its workers, and their VmRSS).

The sandbox serves its ``zoho`` profile by default (``--profile fast``: no latency, no caps). The
extract rows give the bound the profile allows (REST or Bulk Read, read from the sandbox's admin
API) and the ratio to it, the credits and token grants; the post-extract phases of the full sync
give their ratio to a raw COPY + upsert of the same number of records on the same PostgreSQL
cluster; every record is checked to be read exactly once, by ids.
"""

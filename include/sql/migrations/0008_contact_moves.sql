-- Contacts of a run that moved between "own customer" and "contact person of an account" (B2):
-- load_run decides once what to do with each, then every write reads the decision from here.
CREATE TABLE IF NOT EXISTS books.stg_contact_moves (
    run_id              TEXT NOT NULL,
    crm_contact_id      TEXT NOT NULL,
    customer_id         BIGINT NOT NULL,
    retire              INTEGER NOT NULL,
    kept                INTEGER NOT NULL,
    reactivate          INTEGER NOT NULL,
    person_removed      INTEGER NOT NULL,
    held_removed        INTEGER NOT NULL,
    PRIMARY KEY (run_id, crm_contact_id)
);

-- Leases of background jobs, so that with several semrec instances on one
-- database each periodic job (the collaborative refresh, the session sweep)
-- runs on exactly one of them at a time. The holder renews its lease while it
-- lives; a lease whose expires_at has passed is free, so a dead holder's job
-- moves to another instance. last_run_at is when the job last finished, on the
-- database's clock, so a new holder keeps the schedule.

CREATE TABLE job_leases (
    job         TEXT        PRIMARY KEY,
    holder      TEXT        NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    last_run_at TIMESTAMPTZ
);

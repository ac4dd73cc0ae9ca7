-- Throttling counters, in the database so that every semrec process serving it
-- shares them: admin sign-in attempts per client IP and failures per user name,
-- and new handles per client IP. A row whose expires_at has passed counts as
-- absent (it is reset by the next hit and swept now and then).

CREATE TABLE throttle_counters (
    scope        TEXT        NOT NULL,
    key          TEXT        NOT NULL,
    hits         INT         NOT NULL CHECK (hits >= 0),
    locked_until TIMESTAMPTZ,
    expires_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX throttle_counters_expires_at ON throttle_counters (expires_at);

-- Failed sign-ins counted per key (a client address, an account, an account on one known
-- device), in the database so that every node shares the counts. A row's window starts at its
-- first failure; a failure after the window has ended starts a new one.
CREATE TABLE sign_in_failures (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    window_ends_at BIGINT NOT NULL
);

CREATE INDEX sign_in_failures_window_ends_at ON sign_in_failures (window_ends_at);

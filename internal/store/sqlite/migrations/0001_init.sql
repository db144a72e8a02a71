-- Times are unix milliseconds (UTC); NULL means "none".

CREATE TABLE gates (
	id              TEXT PRIMARY KEY,
	repository      TEXT NOT NULL COLLATE NOCASE,
	installation_id INTEGER NOT NULL,
	run_id          INTEGER NOT NULL,
	run_attempt     INTEGER NOT NULL,
	gate_key        TEXT NOT NULL,
	issue_number    INTEGER NOT NULL,
	issue_url       TEXT NOT NULL,
	poll_token_hash BLOB,
	spec            BLOB,
	status          TEXT NOT NULL,
	outcome         BLOB,
	deadline        INTEGER,
	created_at      INTEGER NOT NULL,
	settled_at      INTEGER,
	UNIQUE (repository, run_id, run_attempt, gate_key),
	UNIQUE (repository, issue_number)
) STRICT;
CREATE INDEX gates_due ON gates (status, deadline);

-- Responses and notes are listed in rowid order, the order they were recorded.
CREATE TABLE responses (
	gate_id    TEXT NOT NULL REFERENCES gates (id),
	id         TEXT NOT NULL,
	data       BLOB,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (gate_id, id)
) STRICT;

CREATE TABLE notes (
	seq     INTEGER PRIMARY KEY,
	gate_id TEXT NOT NULL REFERENCES gates (id),
	text    TEXT NOT NULL,
	at      INTEGER NOT NULL
) STRICT;
CREATE INDEX notes_gate ON notes (gate_id, seq);

CREATE TABLE outbox (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	gate_id    TEXT NOT NULL REFERENCES gates (id),
	key        TEXT NOT NULL UNIQUE,
	kind       TEXT NOT NULL,
	payload    BLOB,
	attempts   INTEGER NOT NULL DEFAULT 0,
	next_at    INTEGER NOT NULL,
	last_error TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	done_at    INTEGER
) STRICT;
CREATE INDEX outbox_due ON outbox (done_at, next_at);
CREATE INDEX outbox_gate ON outbox (gate_id, id);

-- lease_until: the delivery may be claimed again from then on.
CREATE TABLE deliveries (
	id          TEXT PRIMARY KEY,
	event       TEXT NOT NULL,
	payload     BLOB,
	received_at INTEGER NOT NULL,
	lease_until INTEGER NOT NULL,
	attempts    INTEGER NOT NULL,
	result      TEXT NOT NULL DEFAULT '',
	done_at     INTEGER
) STRICT;
CREATE INDEX deliveries_claim ON deliveries (done_at, received_at);

CREATE TABLE installations (
	id               INTEGER PRIMARY KEY,
	account          TEXT NOT NULL COLLATE NOCASE,
	all_repositories INTEGER NOT NULL
) STRICT;
CREATE INDEX installations_account ON installations (account);

CREATE TABLE installation_repos (
	installation_id INTEGER NOT NULL REFERENCES installations (id) ON DELETE CASCADE,
	repository      TEXT NOT NULL COLLATE NOCASE,
	PRIMARY KEY (installation_id, repository)
) STRICT;
CREATE INDEX installation_repos_repository ON installation_repos (repository);

-- Email notifications: one row per message of a gate's notification, to
-- one recipient, listed in rowid order, the order they were added.

CREATE TABLE emails (
	gate_id    TEXT NOT NULL REFERENCES gates (id) ON DELETE CASCADE,
	recipient  TEXT NOT NULL,
	label      TEXT NOT NULL,
	message_id TEXT NOT NULL,
	state      TEXT NOT NULL,
	attempts   INTEGER NOT NULL,
	last_error TEXT NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (gate_id, recipient)
) STRICT;

-- Microsoft Teams: the conversations the bot is in, and the card posted
-- for each gate.

CREATE TABLE teams_conversations (
	id          TEXT PRIMARY KEY,
	service_url TEXT NOT NULL,
	tenant_id   TEXT NOT NULL,
	type        TEXT NOT NULL,
	team_id     TEXT NOT NULL,
	team_name   TEXT NOT NULL,
	name        TEXT NOT NULL,
	updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX teams_conversations_team ON teams_conversations (team_id);

CREATE TABLE teams_cards (
	gate_id         TEXT PRIMARY KEY REFERENCES gates (id) ON DELETE CASCADE,
	service_url     TEXT NOT NULL,
	conversation_id TEXT NOT NULL,
	activity_id     TEXT NOT NULL,
	posted_at       INTEGER NOT NULL
) STRICT;

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/gatehouse-ci/gatehouse/internal/store"
)

// PutConversation remembers a Teams conversation, replacing what was stored
// under its id.
func (s *Store) PutConversation(ctx context.Context, c store.Conversation) error {
	if _, err := s.exec(ctx, `INSERT INTO teams_conversations (id, service_url, tenant_id, type, team_id, team_name, name, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET service_url = excluded.service_url, tenant_id = excluded.tenant_id,
			type = excluded.type, team_id = excluded.team_id, team_name = excluded.team_name,
			name = excluded.name, updated_at = excluded.updated_at`,
		c.ID, c.ServiceURL, c.TenantID, c.Type, c.TeamID, c.TeamName, c.Name, millis(c.UpdatedAt)); err != nil {
		return fmt.Errorf("put conversation %s: %w", c.ID, err)
	}
	return nil
}

// RemoveConversation forgets a conversation.
func (s *Store) RemoveConversation(ctx context.Context, id string) error {
	if _, err := s.exec(ctx, `DELETE FROM teams_conversations WHERE id = ?`, id); err != nil {
		return fmt.Errorf("remove conversation %s: %w", id, err)
	}
	return nil
}

// RemoveTeam forgets every conversation of a team.
func (s *Store) RemoveTeam(ctx context.Context, teamID string) error {
	if teamID == "" {
		return nil
	}
	if _, err := s.exec(ctx, `DELETE FROM teams_conversations WHERE team_id = ?`, teamID); err != nil {
		return fmt.Errorf("remove team %s: %w", teamID, err)
	}
	return nil
}

// Conversations lists the remembered conversations by id.
func (s *Store) Conversations(ctx context.Context) ([]store.Conversation, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, service_url, tenant_id, type, team_id, team_name, name, updated_at
		FROM teams_conversations ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	defer rows.Close()
	var cs []store.Conversation
	for rows.Next() {
		var c store.Conversation
		var updated sql.NullInt64
		if err := rows.Scan(&c.ID, &c.ServiceURL, &c.TenantID, &c.Type, &c.TeamID, &c.TeamName, &c.Name, &updated); err != nil {
			return nil, fmt.Errorf("list conversations: %w", err)
		}
		c.UpdatedAt = fromMS(updated)
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	return cs, nil
}

// PutCard remembers the card posted for a gate.
func (s *Store) PutCard(ctx context.Context, c store.Card) error {
	if _, err := s.exec(ctx, `INSERT INTO teams_cards (gate_id, service_url, conversation_id, activity_id, posted_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (gate_id) DO UPDATE SET service_url = excluded.service_url,
			conversation_id = excluded.conversation_id, activity_id = excluded.activity_id, posted_at = excluded.posted_at`,
		c.GateID, c.ServiceURL, c.ConversationID, c.ActivityID, millis(c.PostedAt)); err != nil {
		return fmt.Errorf("put card of gate %s: %w", c.GateID, err)
	}
	return nil
}

// Card returns the card posted for a gate.
func (s *Store) Card(ctx context.Context, gateID string) (store.Card, error) {
	c := store.Card{GateID: gateID}
	var posted sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT service_url, conversation_id, activity_id, posted_at FROM teams_cards WHERE gate_id = ?`,
		gateID).Scan(&c.ServiceURL, &c.ConversationID, &c.ActivityID, &posted)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Card{}, fmt.Errorf("card of gate %s: %w", gateID, err)
	}
	c.PostedAt = fromMS(posted)
	return c, nil
}

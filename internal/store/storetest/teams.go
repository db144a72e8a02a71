package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/store"
)

func testConversations(t *testing.T, s store.Store) {
	ctx := context.Background()
	general := store.Conversation{ID: "19:general@thread.tacv2", ServiceURL: "https://smba.example/amer/", TenantID: "t1",
		Type: "channel", TeamID: "19:general@thread.tacv2", TeamName: "Platform", Name: "General", UpdatedAt: t0}
	releases := general
	releases.ID, releases.Name = "19:releases@thread.tacv2", "releases"
	chat := store.Conversation{ID: "19:chat@thread.v2", ServiceURL: "https://smba.example/emea/", TenantID: "t1", Type: "groupChat", UpdatedAt: t0}
	for _, c := range []store.Conversation{releases, general, chat} {
		if err := s.PutConversation(ctx, c); err != nil {
			t.Fatalf("PutConversation(%s): %v", c.ID, err)
		}
	}
	list := func(step string, want ...store.Conversation) {
		t.Helper()
		got, err := s.Conversations(ctx)
		if err != nil {
			t.Fatalf("%s: Conversations: %v", step, err)
		}
		for i := range want {
			want[i].UpdatedAt = want[i].UpdatedAt.UTC()
		}
		diff(t, step, want, got)
		for _, c := range got {
			inUTC(t, step, c.UpdatedAt)
		}
	}
	list("stored", chat, general, releases)

	renamed := releases
	renamed.Name, renamed.UpdatedAt = "releases-prod", t0.Add(time.Minute)
	if err := s.PutConversation(ctx, renamed); err != nil {
		t.Fatalf("PutConversation(renamed): %v", err)
	}
	list("renamed", chat, general, renamed)

	if err := s.RemoveConversation(ctx, chat.ID); err != nil {
		t.Fatalf("RemoveConversation: %v", err)
	}
	if err := s.RemoveConversation(ctx, "19:unknown"); err != nil {
		t.Errorf("RemoveConversation(unknown): %v", err)
	}
	list("chat removed", general, renamed)

	if err := s.PutConversation(ctx, chat); err != nil {
		t.Fatalf("PutConversation(chat): %v", err)
	}
	if err := s.RemoveTeam(ctx, general.TeamID); err != nil {
		t.Fatalf("RemoveTeam: %v", err)
	}
	if err := s.RemoveTeam(ctx, ""); err != nil {
		t.Errorf("RemoveTeam(empty): %v", err)
	}
	list("team removed", chat)
}

func testCards(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := newGate(1)
	if _, _, err := s.CreateGate(ctx, g); err != nil {
		t.Fatalf("CreateGate: %v", err)
	}
	_, err := s.Card(ctx, g.ID)
	wantErr(t, "Card before PutCard", err, store.ErrNotFound)

	c := store.Card{GateID: g.ID, ServiceURL: "https://smba.example/amer/", ConversationID: "19:releases@thread.tacv2", ActivityID: "1700000000001", PostedAt: t0}
	if err := s.PutCard(ctx, c); err != nil {
		t.Fatalf("PutCard: %v", err)
	}
	again := c
	again.ActivityID, again.PostedAt = "1700000000002", t0.Add(time.Minute)
	if err := s.PutCard(ctx, again); err != nil {
		t.Fatalf("PutCard(again): %v", err)
	}
	got, err := s.Card(ctx, g.ID)
	if err != nil {
		t.Fatalf("Card: %v", err)
	}
	again.PostedAt = again.PostedAt.UTC()
	diff(t, "card", again, got)
	inUTC(t, "card", got.PostedAt)
}

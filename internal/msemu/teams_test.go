package msemu

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"
)

// defects checks a delivery the way the contract tells a bot to and names
// each check that fails: RS256 only, a key from the JWKS, the signature,
// the key endorsed for the activity's channelId, iss, aud (the bot's app
// id), exp (five minutes of skew), and serviceurl equal to the activity's
// serviceUrl.
func defects(t *testing.T, emu *Emulator, authorization string, activity map[string]any) []string {
	t.Helper()
	raw, ok := strings.CutPrefix(authorization, "Bearer ")
	if !ok {
		return []string{"no bearer token"}
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return []string{"alg"}
	}
	h := tok.Headers[0]
	set := keySet(t, emu.URL()+"/v1/.well-known/keys")
	keys := set.Key(h.KeyID)
	if len(keys) == 0 {
		return []string{"unknown key"}
	}
	var std jwt.Claims
	var extra struct {
		ServiceURL *string `json:"serviceurl"`
	}
	if err := tok.Claims(keys[0].Key, &std, &extra); err != nil {
		return []string{"signature"}
	}
	var out []string
	if x5t, _ := h.ExtraHeaders["x5t"].(string); x5t != h.KeyID {
		out = append(out, "x5t")
	}
	for _, k := range publishedKeys(t, emu) {
		if k.Kid == h.KeyID && !slices.Contains(k.Endorsements, activity["channelId"].(string)) {
			out = append(out, "endorsement")
		}
	}
	if std.Issuer != "https://api.botframework.com" {
		out = append(out, "issuer")
	}
	if !std.Audience.Contains(botID) {
		out = append(out, "audience")
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Time: emu.clock()}, 5*time.Minute); err != nil {
		out = append(out, "expired")
	}
	if extra.ServiceURL == nil || *extra.ServiceURL != activity["serviceUrl"] {
		out = append(out, "serviceurl")
	}
	return out
}

func TestTokenForgeries(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := newBot(t)
	activity, err := w.emu.InvokeActivity(botID, InvokeOptions{User: w.alice.ID, ConversationID: w.deploys, Verb: "approve"})
	check(t, err)
	tests := []struct {
		name string
		opts TokenOptions
		want []string
	}{
		{"as Teams sends it", TokenOptions{}, nil},
		{"a key not in the JWKS", TokenOptions{Signing: SignUnknownKey}, []string{"unknown key"}},
		{"a key not endorsed for msteams", TokenOptions{Signing: SignUnendorsedKey}, []string{"endorsement"}},
		{"alg none", TokenOptions{Signing: SignNone}, []string{"alg"}},
		{"HS256 with the public key", TokenOptions{Signing: SignHS256}, []string{"alg"}},
		{"expired", TokenOptions{IssuedAt: w.clock.Now().Add(-2 * time.Hour)}, []string{"expired"}},
		{"not yet valid", TokenOptions{IssuedAt: w.clock.Now().Add(time.Hour)}, []string{"expired"}},
		{"another bot", TokenOptions{Audience: "another-bot"}, []string{"audience"}},
		{"another issuer", TokenOptions{Issuer: "https://login.microsoftonline.com/" + DefaultTenantID + "/v2.0"}, []string{"issuer"}},
		{"another service URL", TokenOptions{ServiceURL: "https://smba.trafficmanager.net/amer/"}, []string{"serviceurl"}},
		{"no service URL", TokenOptions{Claims: map[string]any{"serviceurl": nil}}, []string{"serviceurl"}},
		{"claims set", TokenOptions{Claims: map[string]any{"aud": "someone"}}, []string{"audience"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.opts.Audience == "" {
				tt.opts.Audience = botID
			}
			token, err := w.emu.Token(tt.opts)
			check(t, err)
			before := len(b.got())
			res, err := w.emu.Send(t.Context(), b.srv.URL, activity, token)
			check(t, err)
			if res.Status != http.StatusOK {
				t.Fatalf("bot answered %d", res.Status)
			}
			got := b.got()[before:]
			if len(got) != 1 {
				t.Fatalf("bot got %d deliveries", len(got))
			}
			if diff := cmp.Diff(tt.want, defects(t, w.emu, got[0].header.Get("Authorization"), got[0].activity)); diff != "" {
				t.Errorf("defects (-want +got):\n%s", diff)
			}
		})
	}
}

func TestForgedAlgorithms(t *testing.T) {
	t.Parallel()
	emu := start(t, Options{})
	none, err := emu.Token(TokenOptions{Audience: botID, Signing: SignNone})
	check(t, err)
	if parts := strings.Split(none, "."); len(parts) != 3 || parts[2] != "" || headerAlg(t, none) != "none" {
		t.Errorf("alg none token %q is not unsigned", none)
	}

	hs, err := emu.Token(TokenOptions{Audience: botID, Signing: SignHS256})
	check(t, err)
	tok, err := jwt.ParseSigned(hs, []jose.SignatureAlgorithm{jose.HS256})
	check(t, err)
	der, err := x509.MarshalPKIXPublicKey(&emu.currentKey().priv.PublicKey)
	check(t, err)
	var c jwt.Claims
	if err := tok.Claims(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), &c); err != nil {
		t.Errorf("the HS256 token is not keyed with the public key's PEM: %v", err)
	}
	if _, err := emu.Token(TokenOptions{}); err == nil {
		t.Error("Token without an audience succeeded")
	}
}

func headerAlg(t *testing.T, token string) string {
	t.Helper()
	h, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	check(t, err)
	var header struct{ Alg string }
	check(t, json.Unmarshal(b, &header))
	return header.Alg
}

func TestInstall(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := newBot(t)
	platform := must[Team](t)(w.emu.AddTeam(Team{Name: "Platform", Members: []string{w.bob.ID, w.alice.ID}}))
	token := botToken(t, w.emu)
	if a := do(t, http.MethodPost, connectorURL(w.emu, "conversations", platform.ID, "activities"), bearer(token), cardActivity("x")); a.status != http.StatusForbidden {
		t.Fatalf("before Install, posting answered %d, want 403", a.status)
	}

	check(t, w.emu.Install(t.Context(), b.srv.URL, botID, platform.ID))

	got := b.got()
	if len(got) != 2 {
		t.Fatalf("bot got %d activities, want 2", len(got))
	}
	for _, r := range got {
		if d := defects(t, w.emu, r.header.Get("Authorization"), r.activity); len(d) != 0 {
			t.Errorf("%s token defects: %v", r.activity["type"], d)
		}
	}
	fields := []string{
		"type", "channelId", "serviceUrl", "from.id", "from.aadObjectId", "recipient.id", "recipient.name",
		"conversation.id", "conversation.conversationType", "conversation.isGroup", "conversation.tenantId",
		"channelData.team.id", "channelData.team.name", "channelData.team.aadGroupId", "channelData.tenant.id",
		"channelData.settings.selectedChannel.id", "channelData.eventType", "channelData.channel.id", "action",
	}
	read := func(a map[string]any) map[string]any {
		m := map[string]any{}
		for _, f := range fields {
			if v := path(a, f); v != nil {
				m[f] = v
			}
		}
		return m
	}
	common := map[string]any{
		"channelId": "msteams", "serviceUrl": w.emu.ServiceURL(), "from.id": w.bob.ID, "from.aadObjectId": w.bob.AADObjectID,
		"recipient.id": "28:" + botID, "recipient.name": "Gatehouse",
		"conversation.id": platform.ID, "conversation.conversationType": "channel", "conversation.isGroup": true,
		"conversation.tenantId": DefaultTenantID, "channelData.team.id": platform.ID, "channelData.team.name": "Platform",
		"channelData.team.aadGroupId": platform.AADGroupID, "channelData.tenant.id": DefaultTenantID,
		"channelData.settings.selectedChannel.id": platform.ID,
	}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range common {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	want := []map[string]any{
		with(map[string]any{"type": "conversationUpdate", "channelData.eventType": "teamMemberAdded"}),
		with(map[string]any{"type": "installationUpdate", "action": "add", "channelData.channel.id": platform.ID}),
	}
	if diff := cmp.Diff(want, []map[string]any{read(got[0].activity), read(got[1].activity)}); diff != "" {
		t.Errorf("activities (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{map[string]any{"id": "28:" + botID, "name": "Gatehouse"}}, got[0].activity["membersAdded"]); diff != "" {
		t.Errorf("membersAdded (-want +got):\n%s", diff)
	}
	postCard(t, w.emu, token, platform.ID, "now installed")
}

func TestInstallFails(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := newBot(t)
	b.answer(http.StatusUnauthorized, `{"error":"no"}`)
	empty := must[Team](t)(w.emu.AddTeam(Team{Name: "Empty"}))
	tests := []struct{ name, bot, app, team string }{
		{"the bot refuses", b.srv.URL, botID, w.team.ID},
		{"unknown team", b.srv.URL, botID, "19:none@thread.tacv2"},
		{"a team without members", b.srv.URL, botID, empty.ID},
		{"no app id", b.srv.URL, "", w.team.ID},
		{"a relative bot URL", "/api/teams/messages", botID, w.team.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := w.emu.Install(t.Context(), tt.bot, tt.app, tt.team); err == nil {
				t.Error("Install succeeded")
			}
		})
	}
}

func TestInvoke(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := newBot(t)
	b.answer(http.StatusOK, `{"statusCode":200,"type":"application/vnd.microsoft.card.adaptive","value":{"type":"AdaptiveCard"}}`)
	token := botToken(t, w.emu)
	card := postCard(t, w.emu, token, w.deploys, "approve?")
	chatCard := postCard(t, w.emu, token, w.chat.ID, "approve?")

	tests := []struct {
		name string
		opts InvokeOptions
		want map[string]any
	}{
		{"a card in a channel", InvokeOptions{User: w.bob.UserPrincipalName, ConversationID: w.deploys, ReplyToID: card, Verb: "approve", Data: map[string]any{"reason": "ship it"}},
			map[string]any{
				"type": "invoke", "name": "adaptiveCard/action", "replyToId": card, "from.id": w.bob.ID, "from.name": "Bob Example",
				"conversation.id": w.deploys + ";messageid=" + card, "conversation.conversationType": "channel", "conversation.name": "Deploys",
				"channelData.channel.id": w.deploys, "channelData.channel.name": "Deploys", "channelData.team.id": w.team.ID,
				"channelData.tenant.id": DefaultTenantID, "channelData.source.name": "message",
				"value.action.type": "Action.Execute", "value.action.verb": "approve", "value.action.data": map[string]any{"reason": "ship it"},
				"value.trigger": "manual",
			}},
		{"a card named by its thread", InvokeOptions{User: w.alice.ID, ConversationID: w.deploys + ";messageid=" + card, Verb: "approve"},
			map[string]any{
				"type": "invoke", "name": "adaptiveCard/action", "replyToId": card, "from.id": w.alice.ID, "from.name": "Alice Example",
				"conversation.id": w.deploys + ";messageid=" + card, "conversation.conversationType": "channel", "conversation.name": "Deploys",
				"channelData.channel.id": w.deploys, "channelData.channel.name": "Deploys", "channelData.team.id": w.team.ID,
				"channelData.tenant.id": DefaultTenantID, "channelData.source.name": "message",
				"value.action.type": "Action.Execute", "value.action.verb": "approve", "value.action.data": map[string]any{},
				"value.trigger": "manual",
			}},
		{"a card in a group chat", InvokeOptions{User: w.carol.AADObjectID, ConversationID: w.chat.ID, ReplyToID: chatCard, Verb: "reject"},
			map[string]any{
				"type": "invoke", "name": "adaptiveCard/action", "replyToId": chatCard, "from.id": w.carol.ID, "from.name": "Carol Example",
				"conversation.id": w.chat.ID, "conversation.conversationType": "groupChat", "conversation.name": "Ops",
				"channelData.tenant.id": DefaultTenantID, "value.action.type": "Action.Execute",
				"value.action.verb": "reject", "value.action.data": map[string]any{},
				"value.trigger": "manual",
			}},
	}
	keys := []string{
		"type", "name", "replyToId", "from.id", "from.name", "conversation.id", "conversation.conversationType", "conversation.name",
		"channelData.channel.id", "channelData.channel.name", "channelData.team.id", "channelData.tenant.id", "channelData.source.name",
		"value.action.type", "value.action.verb", "value.action.data", "value.trigger",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(b.got())
			res, err := w.emu.Invoke(t.Context(), b.srv.URL, botID, tt.opts)
			check(t, err)
			if res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"statusCode":200`) {
				t.Errorf("Invoke returned %d %s, not the bot's answer", res.Status, res.Body)
			}
			r := b.got()[before]
			got := map[string]any{}
			for _, k := range keys {
				if v := path(r.activity, k); v != nil {
					got[k] = v
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("invoke (-want +got):\n%s", diff)
			}
			if d := defects(t, w.emu, r.header.Get("Authorization"), r.activity); len(d) != 0 {
				t.Errorf("token defects: %v", d)
			}
			headers := map[string]string{
				"Content-Type": "application/json; charset=utf-8", "User-Agent": "Microsoft-SkypeBotApi (Microsoft-BotFramework 3.0)",
				"X-Ms-Conversation-Id": got["conversation.id"].(string), "X-Ms-Tenant-Id": DefaultTenantID,
			}
			for k, v := range headers {
				if r.header.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, r.header.Get(k), v)
				}
			}
		})
	}
}

func TestInvokeRefuses(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	b := newBot(t)
	card := postCard(t, w.emu, botToken(t, w.emu), w.deploys, "approve?")
	other := must[Team](t)(w.emu.AddTeam(Team{Name: "Elsewhere", Members: []string{w.alice.ID}}))
	ok := InvokeOptions{User: w.alice.ID, ConversationID: w.deploys, ReplyToID: card, Verb: "approve"}
	tests := []struct {
		name   string
		edit   func(*InvokeOptions)
		botApp string
	}{
		{"unknown person", func(o *InvokeOptions) { o.User = "29:nobody" }, botID},
		{"a person outside the team", func(o *InvokeOptions) { o.User = w.carol.ID }, botID},
		{"unknown conversation", func(o *InvokeOptions) { o.ConversationID = "19:none@thread.tacv2" }, botID},
		{"a card never posted", func(o *InvokeOptions) { o.ReplyToID = "1" }, botID},
		{"a card of another channel", func(o *InvokeOptions) { o.ConversationID = w.team.ID }, botID},
		{"no verb", func(o *InvokeOptions) { o.Verb = "" }, botID},
		{"a bot not installed there", func(o *InvokeOptions) { o.ConversationID, o.ReplyToID = other.ID, "" }, botID},
		{"no bot", func(*InvokeOptions) {}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := ok
			tt.edit(&opts)
			if _, err := w.emu.Invoke(t.Context(), b.srv.URL, tt.botApp, opts); err == nil {
				t.Error("Invoke succeeded")
			}
		})
	}
	if n := len(b.got()); n != 0 {
		t.Errorf("the bot got %d activities", n)
	}
	// The same options unedited do reach the bot.
	if _, err := w.emu.Invoke(t.Context(), b.srv.URL, botID, ok); err != nil {
		t.Fatal(err)
	}
}

func TestSendWithoutToken(t *testing.T) {
	t.Parallel()
	emu := start(t, Options{})
	b := newBot(t)
	b.answer(http.StatusUnauthorized, "")
	res, err := emu.Send(t.Context(), b.srv.URL, map[string]any{"type": "message"}, "")
	check(t, err)
	if res.Status != http.StatusUnauthorized {
		t.Errorf("status %d", res.Status)
	}
	if h := b.got()[0].header; h.Get("Authorization") != "" || h.Get("X-Ms-Conversation-Id") != "" {
		t.Errorf("headers %v, want no Authorization and no conversation id", h)
	}
	if _, err := emu.Send(t.Context(), "ftp://example.invalid/", map[string]any{}, ""); err == nil {
		t.Error("Send to an ftp URL succeeded")
	}
	if _, err := emu.Send(t.Context(), b.srv.URL, func() {}, ""); err == nil {
		t.Error("Send of a value that is not JSON succeeded")
	}
}

func TestInvokeOnAReplyComesFromItsThread(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	token := botToken(t, w.emu)
	root := postCard(t, w.emu, token, w.deploys, "root")
	reply := postCard(t, w.emu, token, w.deploys+";messageid="+root, "the card, as a reply")
	a, err := w.emu.InvokeActivity(botID, InvokeOptions{User: w.alice.ID, ConversationID: w.deploys, ReplyToID: reply, Verb: "approve"})
	check(t, err)
	if got := []any{path(a, "conversation.id"), a["replyToId"]}; !cmp.Equal(got, []any{w.deploys + ";messageid=" + root, reply}) {
		t.Errorf("conversation.id, replyToId = %v, want the root's thread and the reply", got)
	}
}

func TestURLs(t *testing.T) {
	t.Parallel()
	emu := start(t, Options{})
	base := emu.URL()
	want := []string{base, base + "/tenant-1/oauth2/v2.0/token", base + "/v1/.well-known/openidconfiguration", base + "/teams/"}
	got := []string{emu.AuthorityURL(), emu.TokenURL("tenant-1"), emu.OpenIDURL(), emu.ServiceURL()}
	if diff := cmp.Diff(want, got); diff != "" || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Errorf("URLs under %s (-want +got):\n%s", base, diff)
	}
}

package commands_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
)

func TestSecretCredentialsAreCiphertextAtRestMaskedWhenListedAndNeverLogged(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	ctx := context.Background()
	name := env.UniqueUser(t, "ivy")
	u := env.CreateUser(t, name).User

	secrets := map[string]string{
		"Grafana_api_key": "glsa_" + strings.Repeat("k", 32) + "_a1b2c3d4",
		"slack_bot_token": "xoxb-1234-5678-" + strings.Repeat("s", 24),
	}
	for key, value := range secrets {
		c, err := env.Service.SetCredential(ctx, commands.CLI, name, key, value, commands.Upsert)
		if err != nil {
			t.Fatalf("set %s: %v", key, err)
		}
		if !c.Secret || strings.Contains(c.Masked, value) || c.Value != "" {
			t.Fatalf("set %s answered %+v", key, c)
		}
	}
	// At rest: no plain value, and the ciphertext does not contain it either.
	rows, err := env.DB.Pool.Query(ctx, "SELECT key_name, value_plain, value_cipher FROM credentials WHERE user_id = $1 AND is_secret", u.ID)
	must(t, err)
	n := 0
	for rows.Next() {
		var key string
		var plain *string
		var sealed []byte
		must(t, rows.Scan(&key, &plain, &sealed))
		n++
		if plain != nil || len(sealed) < 30 {
			t.Fatalf("%s stored as plain %v / %d sealed bytes", key, plain, len(sealed))
		}
		for _, v := range secrets {
			if bytes.Contains(sealed, []byte(v)) {
				t.Fatalf("%s: ciphertext contains the plain value", key)
			}
		}
	}
	if n != 4 { // db_pass, db_viewer_pass and the two above
		t.Fatalf("%d secret rows, want 4", n)
	}
	list, err := env.Service.ListCredentials(ctx, commands.CLI, name)
	must(t, err)
	for _, c := range list {
		for _, v := range secrets {
			if strings.Contains(c.Masked, v) || c.Value.Reveal() != "" {
				t.Fatalf("listing shows %s: %+v", c.Key, c)
			}
		}
		if c.Key == "grafana_api_key" && c.Masked != "glsa_********c3d4" {
			t.Fatalf("mask of grafana_api_key = %q", c.Masked)
		}
		if c.Key == "db_timing_report" && c.Masked != name+"-timing_report" {
			t.Fatalf("plain credential masked: %+v", c)
		}
	}
	revealed, err := env.Service.RevealCredential(ctx, commands.CLI, name, "GRAFANA_API_KEY")
	if err != nil || revealed.Value.Reveal() != secrets["Grafana_api_key"] {
		t.Fatalf("reveal: %v", err)
	}
	entries, err := env.DB.Audit().List(ctx, name, 50)
	must(t, err)
	var sawReveal bool
	for _, e := range entries {
		sawReveal = sawReveal || e.Action == "credential.reveal"
	}
	if !sawReveal {
		t.Fatal("reveal was not audited")
	}
	// Nothing secret in the log or the audit log.
	auditJSON, err := json.Marshal(entries)
	must(t, err)
	for _, v := range secrets {
		if strings.Contains(env.Log.String(), v) || strings.Contains(string(auditJSON), v) {
			t.Fatalf("a secret value reached the log or the audit log")
		}
	}
}

func TestSetCredentialValidatesKeysAndValues(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t, commandstest.WithAllowList(cg.AllowList{DBHosts: []string{"127.0.0.1", "10.1.2.3"}}))
	ctx := context.Background()
	name := env.UniqueUser(t, "jo")
	env.CreateUser(t, name)
	cases := []struct {
		key, value, want string
	}{
		{"grafana_ur", "https://g.example.com", `did you mean "grafana_url"`},
		{"slack_chanel_id", "C0123456789", `did you mean "slack_channel_id"`},
		{"db_port", "70000", "port number from 1 to 65535"},
		{"db_port", "abc", "port number from 1 to 65535"},
		{"grafana_url", "ftp://x", "http:// or https:// URL"},
		{"slack_channel_id", "#general", "channel ID like C012AB3CD4E"},
		{"slack_channel_id", "D0123ABCD45", "not a #name or a direct message (D…)"}, // no im: scopes in the manifest
		{"slack_bot_token", "xoxp-user-token-123456", `starts with "xoxb-"`},
		{"grafana_api_key", "eyJrIjoiOld", `starts with "glsa_"`},
		{"db_host", "https://db.example.com", "host name or IP"},
	}
	for _, c := range cases {
		_, err := env.Service.SetCredential(ctx, commands.CLI, name, c.key, c.value, commands.Upsert)
		if cg.ErrorCode(err) != cg.EINVALID || !strings.Contains(cg.ErrorMessage(err), c.want) {
			t.Errorf("set %s=%q: %v, want %q", c.key, c.value, err, c.want)
		}
	}
	// A refused secret's message does not echo it.
	_, err := env.Service.SetCredential(ctx, commands.CLI, name, "slack_bot_token", "xoxp-user-token-123456", commands.Upsert)
	if strings.Contains(err.Error(), "xoxp-user-token") {
		t.Fatalf("error echoes the secret: %v", err)
	}
	// Seed spellings are accepted.
	for _, key := range []string{"DB_host", "Slack_channel_id", "Grafana_api_key", "grafana-url"} {
		if _, err := commands.LookupKey(key); err != nil {
			t.Errorf("LookupKey(%q): %v", key, err)
		}
	}
	c, err := env.Service.SetCredential(ctx, commands.CLI, name, "DB_host", "10.1.2.3", commands.Upsert)
	if err != nil || c.Key != "db_host" || c.Masked != "10.1.2.3" {
		t.Fatalf("set DB_host: %+v %v", c, err)
	}
}

func TestCreateOnlyAndUpdateOnlyModes(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	ctx := context.Background()
	name := env.UniqueUser(t, "kim")
	env.CreateUser(t, name)
	if _, err := env.Service.SetCredential(ctx, commands.CLI, name, "db_host", "127.0.0.1", commands.CreateOnly); cg.ErrorCode(err) != cg.ECONFLICT {
		t.Fatalf("create-only over an existing key: %v", err)
	}
	if _, err := env.Service.SetCredential(ctx, commands.CLI, name, "grafana_api_key", "glsa_abcdefghijklmnop", commands.UpdateOnly); cg.ErrorCode(err) != cg.ENOTFOUND {
		t.Fatalf("update-only of a missing key: %v", err)
	}
	if err := env.Service.DeleteCredential(ctx, commands.CLI, name, "grafana_api_key"); cg.ErrorCode(err) != cg.ENOTFOUND {
		t.Fatalf("delete missing: %v", err)
	}
}

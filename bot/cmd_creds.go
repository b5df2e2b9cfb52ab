package bot

import (
	"context"
	"fmt"

	"credential-grafana/commands"
)

// credSetForm opens the credential form unless a value for a known, non-secret key was
// given: a secret is only ever typed into the form.
func credSetForm(r *request) modalOpener {
	key := ""
	if len(r.args) > 1 {
		key = r.args[1]
	}
	if len(r.args) == 3 {
		if spec, err := commands.LookupKey(key); err != nil || !spec.Secret {
			return nil // commands validates the key and the value
		}
	}
	user := r.args[0]
	return func(ctx context.Context, r *request) error {
		return r.b.openCredSetModal(ctx, r.triggerID, r.actor(ctx), user, key)
	}
}

func runCredSet(ctx context.Context, r *request) reply {
	c, err := r.b.svc.SetCredential(ctx, r.actor(ctx), r.args[0], r.args[1], r.args[2], commands.Upsert)
	if err != nil {
		return r.b.errorReply(err, "cred set")
	}
	return reply{Text: fmt.Sprintf(":white_check_mark: Set `%s` of *%s*: `%s`.", c.Key, esc(r.args[0]), esc(c.Masked))}
}

func runCredList(ctx context.Context, r *request) reply {
	creds, err := r.b.svc.ListCredentials(ctx, r.actor(ctx), r.args[0])
	if err != nil {
		return r.b.errorReply(err, "cred list")
	}
	return credListReply(r.b.cfg.Command, r.args[0], creds)
}

func runCredDelete(ctx context.Context, r *request) reply {
	if err := r.b.svc.DeleteCredential(ctx, r.actor(ctx), r.args[0], r.args[1]); err != nil {
		return r.b.errorReply(err, "cred delete")
	}
	return reply{Text: fmt.Sprintf(":white_check_mark: Deleted `%s` of *%s*.", esc(r.args[1]), esc(r.args[0]))}
}

// runCredReveal answers only the asker (an ephemeral reply) with the value in full.
func runCredReveal(ctx context.Context, r *request) reply {
	c, err := r.b.svc.RevealCredential(ctx, r.actor(ctx), r.args[0], r.args[1])
	if err != nil {
		return r.b.errorReply(err, "cred reveal")
	}
	return reply{Text: fmt.Sprintf(":eyes: `%s` of *%s*, shown only to you (this reveal is audited):\n```%s```",
		c.Key, esc(r.args[0]), esc(c.Value.Reveal()))}
}

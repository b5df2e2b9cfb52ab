package bot

import (
	"context"
	"fmt"
)

// runUserKey issues a new API key for a user the member manages and revokes the old
// one. The reply is ephemeral: the key is shown once, to the person who asked.
func runUserKey(ctx context.Context, r *request) reply {
	res, err := r.b.svc.NewAPIKey(ctx, r.actor(ctx), r.args[0])
	if err != nil {
		return r.b.errorReply(err, "user key")
	}
	return reply{Text: fmt.Sprintf(":key: New API key of *%s*, shown this once and only to you (only its hash is stored); the old one no longer works:\n`%s`",
		res.User.Name, res.APIKey.Reveal())}
}

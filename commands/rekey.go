package commands

import (
	"context"

	"credential-grafana/cg"
	"credential-grafana/db"
)

// Rekey seals every stored secret again under CREDENTIALS_KEY, the users' credentials
// and the service's own secrets (see db.Credentials.Rekey: batches of batch values,
// default 100, each in a transaction, so an interruption loses nothing and a second run
// finishes). Values under a key that is not configured are left alone and listed in the
// result's Left, each with what to do. Only administrators may; the run is
// audited, an interrupted one too, with what it had done.
func (s *Service) Rekey(ctx context.Context, actor Actor, batch int) (db.RekeyResult, error) {
	if err := requireAdmin(actor, "re-encrypt credentials"); err != nil {
		return db.RekeyResult{}, err
	}
	res, err := s.creds.Rekey(ctx, batch)
	detail := map[string]any{"resealed": res.Resealed, "service_resealed": res.Service, "current": res.Current, "left": len(res.Left)}
	if err != nil {
		detail["interrupted"] = true
	}
	s.record(context.WithoutCancel(ctx), actor, "credentials.rekey", "", detail)
	if err == nil {
		s.log.Info().Int("resealed", res.Resealed).Int("left", len(res.Left)).Msg("credentials re-encrypted")
	}
	return res, err
}

// NewAPIKeyResult is a user's newly issued API key.
type NewAPIKeyResult struct {
	User cg.User `json:"user"`
	// APIKey is shown once: only its hash is stored.
	APIKey cg.Secret `json:"-"`
}

// NewAPIKey issues a new API key for a user and revokes the old one, which stops
// working at once. An administrator may, and whoever manages the user (its own key,
// its Slack owner). The change is audited. Returns cg.ECONFLICT for a user that is not
// active (a provisioning one gets its key when its creation finishes).
func (s *Service) NewAPIKey(ctx context.Context, actor Actor, ref string) (NewAPIKeyResult, error) {
	u, err := s.userFor(ctx, actor, ref)
	if err != nil {
		return NewAPIKeyResult{}, err
	}
	if u.Status != cg.UserActive && u.Status != cg.UserDisabled {
		return NewAPIKeyResult{}, cg.Errorf(cg.ECONFLICT, "user %q is %s: only an active or disabled user gets a new API key", u.Name, u.Status)
	}
	key := newAPIKey()
	if err := s.users.ReplaceAPIKey(ctx, u.ID, key, cg.Mask(key)); err != nil {
		return NewAPIKeyResult{}, err
	}
	s.record(ctx, actor, "user.api_key_reissue", u.Name, nil)
	return NewAPIKeyResult{User: u, APIKey: cg.Secret(key)}, nil
}

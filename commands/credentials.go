package commands

import (
	"context"
	"fmt"

	"credential-grafana/cg"
	"credential-grafana/db"
)

func maskAll(list []cg.Credential) []cg.Credential {
	out := make([]cg.Credential, len(list))
	for i, c := range list {
		c.Value = "" // a listed credential carries only its masked form
		out[i] = c
	}
	return out
}

// explainUnreadable adds to each credential of u that does not decrypt the command
// that sets it again.
func explainUnreadable(u cg.User, list []cg.Credential) []cg.Credential {
	for i, c := range list {
		if c.Unreadable != "" {
			list[i].Unreadable = fmt.Sprintf("%s (`cred set %s %s`, or PUT /api/v1/users/%s/credentials/%s)", c.Unreadable, u.Name, c.Key, u.Name, c.Key)
		}
	}
	return list
}

// ListCredentials returns a user's credentials, secret values masked.
func (s *Service) ListCredentials(ctx context.Context, actor Actor, ref string) ([]cg.Credential, error) {
	u, err := s.userFor(ctx, actor, ref)
	if err != nil {
		return nil, err
	}
	list, err := s.creds.List(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return explainUnreadable(u, maskAll(list)), nil
}

// SetMode says whether SetCredential may create, replace, or both.
type SetMode int

// Set modes.
const (
	Upsert     SetMode = iota // create or replace
	CreateOnly                // refuse (cg.ECONFLICT) if the key has a value
	UpdateOnly                // refuse (cg.ENOTFOUND) if the key has none
)

// SetCredential validates and stores one credential; a secret is encrypted at rest. The
// result is masked. Setting db_pass of an active user changes its owner role's password
// first. Returns cg.EINVALID for an unknown key (naming the nearest) or a value of the
// wrong shape, and cg.EFORBIDDEN for a system key (nobody sets those), a connection key
// set by someone other than an administrator, or a db_host or grafana_url that is not on
// the allow-list.
func (s *Service) SetCredential(ctx context.Context, actor Actor, ref, key, value string, mode SetMode) (cg.Credential, error) {
	u, err := s.userFor(ctx, actor, ref)
	if err != nil {
		return cg.Credential{}, err
	}
	spec, err := LookupKey(key)
	if err != nil {
		return cg.Credential{}, err
	}
	if err := spec.mayChange(actor, u.Name); err != nil {
		return cg.Credential{}, err
	}
	if err := spec.Check(value); err != nil {
		return cg.Credential{}, err
	}
	if err := spec.allowed(s.allowed, value); err != nil {
		return cg.Credential{}, err
	}
	if err := checkRolePassword(spec.Name, value); err != nil {
		return cg.Credential{}, err
	}
	if u.Status == cg.UserRemoved {
		return cg.Credential{}, cg.Errorf(cg.ECONFLICT, "user %q was removed: add it again before setting credentials", u.Name)
	}
	if mode != Upsert {
		_, gerr := s.creds.Get(ctx, u.ID, spec.Name)
		exists := gerr == nil
		if gerr != nil && cg.ErrorCode(gerr) != cg.ENOTFOUND {
			return cg.Credential{}, gerr
		}
		if mode == CreateOnly && exists {
			return cg.Credential{}, cg.Errorf(cg.ECONFLICT, "user %q already has %s: update it instead (PUT …/credentials/%s)", u.Name, spec.Name, spec.Name)
		}
		if mode == UpdateOnly && !exists {
			return cg.Credential{}, cg.Errorf(cg.ENOTFOUND, "user %q has no %s yet: create it first (POST …/credentials)", u.Name, spec.Name)
		}
	}
	if isGrafanaKey(spec.Name) {
		if err := s.tryGrafanaChange(ctx, u, spec.Name, value); err != nil {
			return cg.Credential{}, err
		}
	}
	if spec.Name == "db_pass" {
		if err := s.rotateOwnerPassword(ctx, u, value); err != nil {
			return cg.Credential{}, err
		}
	}
	existed, err := s.creds.Set(ctx, u.ID, spec.Name, value, spec.Secret)
	if err != nil {
		return cg.Credential{}, err
	}
	action := "credential.create"
	if existed {
		action = "credential.update"
	}
	s.record(ctx, actor, action, u.Name, map[string]any{"key": spec.Name, "secret": spec.Secret})
	c, err := s.creds.Get(ctx, u.ID, spec.Name)
	if err != nil {
		return cg.Credential{}, err
	}
	c.Value = ""
	return c, nil
}

// DeleteCredential removes one credential. Returns cg.EFORBIDDEN for a system key and
// for a connection key deleted by someone other than an administrator.
func (s *Service) DeleteCredential(ctx context.Context, actor Actor, ref, key string) error {
	u, err := s.userFor(ctx, actor, ref)
	if err != nil {
		return err
	}
	spec, err := LookupKey(key)
	if err != nil {
		return err
	}
	if err := spec.mayChange(actor, u.Name); err != nil {
		return err
	}
	if err := s.creds.Delete(ctx, u.ID, spec.Name); err != nil {
		if cg.ErrorCode(err) == cg.ENOTFOUND {
			return cg.Errorf(cg.ENOTFOUND, "user %q has no %s", u.Name, spec.Name)
		}
		return err
	}
	s.record(ctx, actor, "credential.delete", u.Name, map[string]any{"key": spec.Name})
	return nil
}

// RevealCredential returns one credential with its value in full. The reveal is audited.
func (s *Service) RevealCredential(ctx context.Context, actor Actor, ref, key string) (cg.Credential, error) {
	u, err := s.userFor(ctx, actor, ref)
	if err != nil {
		return cg.Credential{}, err
	}
	spec, err := LookupKey(key)
	if err != nil {
		return cg.Credential{}, err
	}
	c, err := s.creds.Get(ctx, u.ID, spec.Name)
	if err != nil {
		if cg.ErrorCode(err) == cg.ENOTFOUND {
			return cg.Credential{}, cg.Errorf(cg.ENOTFOUND, "user %q has no %s", u.Name, spec.Name)
		}
		return cg.Credential{}, err
	}
	s.record(ctx, actor, "credential.reveal", u.Name, map[string]any{"key": spec.Name})
	return c, nil
}

// rotateOwnerPassword sets the owner role of an active user to a new password before it
// is stored, so the stored db_pass is always the role's. A user still provisioning gets
// it when its roles are made.
func (s *Service) rotateOwnerPassword(ctx context.Context, u cg.User, pass string) error {
	if u.Status != cg.UserActive {
		return nil
	}
	viewerPass, err := s.creds.Get(ctx, u.ID, "db_viewer_pass")
	if err != nil {
		return fmt.Errorf("read db_viewer_pass of %s: %w", u.Name, err)
	}
	if err := s.prov.EnsureRoles(ctx, u.Name, cg.Secret(pass), viewerPass.Value); err != nil {
		return cg.WrapError(cg.ErrorCode(err), err, "db_pass was not saved: changing the password of role %s failed: %s", db.OwnerRole(u.Name), cg.ErrorMessage(err))
	}
	return nil
}

package grafana

import (
	"context"
	"fmt"

	"credential-grafana/cg"
)

// ServiceTokenAccountName is the service account the service makes for itself in
// GRAFANA_ORG_ID when it is given a server admin's login (GRAFANA_USER,
// GRAFANA_PASSWORD) and no GRAFANA_API_KEY.
const ServiceTokenAccountName = "credential-grafana-service"

// ServiceTokenAccountRole is that account's org role: Admin, as the service makes data
// sources (users' and its own) in GRAFANA_ORG_ID.
const ServiceTokenAccountRole = "Admin"

// BootstrapServiceToken makes sure the service account ServiceTokenAccountName (role
// ServiceTokenAccountRole) exists in c's org and returns a token of it: held when
// Grafana still accepts it as a token of that org, else a new one (isNew), made after
// deleting the account's other tokens, which the caller must store. c must
// authenticate as a Grafana server admin or org Admin (Basic auth); it acts in its
// OrgID, or the org of its login when that is 0. Everything is found by name first, so
// running it again after any failure finishes the job without duplicates. An existing
// account keeps the role it has.
func (c *Client) BootstrapServiceToken(ctx context.Context, held cg.Secret) (token cg.Secret, isNew bool, err error) {
	fail := func(err error) (cg.Secret, bool, error) {
		return "", false, fmt.Errorf("make the service's own Grafana token: %w", err)
	}
	orgID, err := c.CurrentOrgID(ctx)
	if err != nil {
		return fail(err)
	}
	inOrg := c.InOrg(orgID)
	sa, err := inOrg.ensureServiceAccount(ctx, ServiceTokenAccountName, ServiceTokenAccountRole)
	if err != nil {
		return fail(err)
	}
	if token, isNew, err = inOrg.keepOrReplaceToken(ctx, sa, held, orgID); err != nil {
		return fail(err)
	}
	return token, isNew, nil
}

// SetServiceToken makes token the service's own Grafana token (GRAFANA_API_KEY's place)
// for every client handed out from now on: the service's (For(nil)) and, in
// IsolationFolder, every user's without a Grafana of its own. Admin still signs in
// with the server admin's login.
func (cs *Clients) SetServiceToken(token cg.Secret) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.global.Token = token
}

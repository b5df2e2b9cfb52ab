package commands

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"credential-grafana/cg"
	"credential-grafana/grafana"
)

// provisionGrafana makes (or finds) the user's folder and three data sources in the
// user's Grafana and stores the data sources' UIDs as its grafana_uid_* credentials.
// creds are the credentials to use, which may differ from the stored ones when a
// change is being tried. With no Grafana configured it does nothing and says so.
func (s *Service) provisionGrafana(ctx context.Context, u cg.User, creds map[string]string) (bool, error) {
	if s.grafana == nil {
		return false, nil
	}
	// Grafana connects to db_host for the user: a stored value not on the allow-list is
	// refused here too, not only when it is set.
	if err := s.allowed.CheckDBHost(creds["db_host"]); err != nil {
		return false, err
	}
	req := s.provisionRequest(u, creds)
	var res grafana.ProvisionResult
	if s.orgIsolated(creds) {
		if !s.grafana.Enabled() {
			return false, nil
		}
		var err error
		if res, err = s.provisionGrafanaOrg(ctx, u, creds, req); err != nil {
			return false, err
		}
	} else {
		client, _, err := s.grafana.For(creds)
		if errors.Is(err, grafana.ErrOff) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if res, err = client.ProvisionUser(ctx, req); err != nil {
			return false, grafanaError(client.BaseURL(), err)
		}
	}
	for kind, uid := range res.DataSourceUIDs {
		if _, err := s.creds.Set(ctx, u.ID, kind.DataSourceCredentialKey(), uid, false); err != nil {
			return false, err
		}
	}
	return true, nil
}

// orgIsolated says whether the user's Grafana things live in an org of its own: in
// GRAFANA_ISOLATION=org, unless the user names a Grafana of its own (grafana_url other
// than the service's).
func (s *Service) orgIsolated(creds map[string]string) bool {
	if s.grafana == nil || s.grafana.Isolation() != grafana.IsolationOrg {
		return false
	}
	u := creds["grafana_url"]
	return u == "" || u == s.defaults.GrafanaURL
}

// provisionGrafanaOrg makes (or finds) the user's own org with its folder, data
// sources and service account, as the server admin, and stores the account's token as
// the user's grafana_api_key (encrypted) when it is new.
func (s *Service) provisionGrafanaOrg(ctx context.Context, u cg.User, creds map[string]string, req grafana.ProvisionRequest) (grafana.ProvisionResult, error) {
	admin, err := s.grafana.Admin()
	if err != nil {
		return grafana.ProvisionResult{}, err
	}
	res, err := admin.ProvisionOrg(ctx, grafana.OrgProvisionRequest{ProvisionRequest: req, Token: cg.Secret(creds["grafana_api_key"])})
	if err != nil {
		return grafana.ProvisionResult{}, grafanaError(admin.BaseURL(), err)
	}
	if res.NewToken {
		if _, err := s.creds.Set(ctx, u.ID, "grafana_api_key", res.Token.Reveal(), true); err != nil {
			return grafana.ProvisionResult{}, fmt.Errorf("store the Grafana token of %s's org: %w", u.Name, err)
		}
		s.log.Info().Str("user", u.Name).Int64("grafana_org_id", res.OrgID).Msg("Grafana org token issued")
	}
	return res.ProvisionResult, nil
}

func (s *Service) provisionRequest(u cg.User, creds map[string]string) grafana.ProvisionRequest {
	port, _ := strconv.Atoi(creds["db_port"])
	req := grafana.ProvisionRequest{
		User:           u.Name,
		Host:           creds["db_host"],
		Port:           port,
		SSLMode:        s.defaults.DBSSLMode,
		Viewer:         creds["db_viewer_user"],
		ViewerPassword: cg.Secret(creds["db_viewer_pass"]),
		Databases:      map[cg.Kind]string{},
	}
	for _, k := range cg.Kinds {
		req.Databases[k] = creds[k.DatabaseCredentialKey()]
	}
	return req
}

// grafanaError turns a Grafana failure into a message an administrator can act on.
func grafanaError(base string, err error) error {
	switch {
	case errors.Is(err, grafana.ErrUnauthorized):
		return cg.WrapError(cg.EUNAVAILABLE, err, "Grafana at %s refused the token: check GRAFANA_API_KEY (or the user's grafana_api_key), a service-account token with the Editor or Admin role", base)
	case errors.Is(err, grafana.ErrForbidden):
		return cg.WrapError(cg.EUNAVAILABLE, err, "Grafana at %s does not let this token create folders and data sources: give its service account the Admin role", base)
	case errors.Is(err, grafana.ErrDataSourceUnhealthy):
		return cg.WrapError(cg.EUNAVAILABLE, err, "Grafana at %s cannot reach the user's databases: %v (check db_host/db_port as Grafana sees them, and USER_DB_SSLMODE)", base, err)
	}
	return cg.WrapError(cg.EUNAVAILABLE, err, "Grafana at %s: %v", base, err)
}

// deprovisionGrafana removes the user's folder (with its dashboards) and data sources.
func (s *Service) deprovisionGrafana(ctx context.Context, u cg.User, creds map[string]string) error {
	if s.grafana == nil {
		return nil
	}
	if s.orgIsolated(creds) && s.grafana.Enabled() {
		// The user's org goes with everything in it: its data sources, folder,
		// dashboards, service account and token.
		admin, err := s.grafana.Admin()
		if err != nil {
			return err
		}
		if err := admin.DeprovisionOrg(ctx, u.Name); err != nil {
			return grafanaError(admin.BaseURL(), err)
		}
		return nil
	}
	client, _, err := s.grafana.For(creds)
	if errors.Is(err, grafana.ErrOff) || errors.Is(err, grafana.ErrNoOrgToken) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := client.DeprovisionUser(ctx, u.Name); err != nil {
		return grafanaError(client.BaseURL(), err)
	}
	return nil
}

// isGrafanaKey says whether changing key moves the user to another Grafana.
func isGrafanaKey(key string) bool { return key == "grafana_url" || key == "grafana_api_key" }

// tryGrafanaChange provisions the user on the Grafana that creds name, before they are
// stored: a URL or token that does not work is refused and nothing is saved.
func (s *Service) tryGrafanaChange(ctx context.Context, u cg.User, key, value string) error {
	if u.Status != cg.UserActive {
		return nil // provisioning will use it
	}
	creds, err := s.creds.Map(ctx, u.ID)
	if err != nil {
		return err
	}
	creds[key] = value
	if key == "grafana_api_key" && s.orgIsolated(creds) && s.grafana.Enabled() {
		// In org isolation the token must be one of the user's own org: any other
		// would put its dashboards in another tenant's org.
		admin, err := s.grafana.Admin()
		if err != nil {
			return err
		}
		if err := admin.CheckOrgToken(ctx, u.Name, cg.Secret(value)); err != nil {
			return cg.WrapError(cg.ErrorCode(err), err, "%s was not saved: %s", key, cg.ErrorMessage(err))
		}
	}
	if creds["grafana_url"] == "" || creds["grafana_api_key"] == "" {
		return nil // the other half is still to come
	}
	if _, err := s.provisionGrafana(ctx, u, creds); err != nil {
		return cg.WrapError(cg.ErrorCode(err), err, "%s was not saved: %s", key, cg.ErrorMessage(err))
	}
	return nil
}

package app

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	"credential-grafana/cg"
	"credential-grafana/db"
	"credential-grafana/grafana"
)

// bootstrapsGrafanaToken reports whether the service makes its own Grafana token: a
// Grafana is configured with a server admin's login (GRAFANA_USER, GRAFANA_PASSWORD)
// and no GRAFANA_API_KEY.
func (m *Main) bootstrapsGrafanaToken() bool {
	c := m.Config
	return c.GrafanaBaseURL != "" && c.GrafanaAPIKey.Empty() && c.GrafanaUser != "" && !c.GrafanaPassword.Empty()
}

// storedGrafanaToken is the token the service made for itself on an earlier start, or
// "" when there is none (or it does not open, which is logged): the service then signs
// in with the admin's login until startServiceGrafana has made one.
func (m *Main) storedGrafanaToken(ctx context.Context, cipher *db.Cipher) cg.Secret {
	if !m.bootstrapsGrafanaToken() {
		return ""
	}
	tok, err := m.DB.ServiceSecrets(cipher).Get(ctx, db.SecretGrafanaToken)
	if err != nil && cg.ErrorCode(err) != cg.ENOTFOUND {
		m.Log.Warn().Err(err).Msg("the service's own Grafana token cannot be read: a new one is made")
	}
	return tok
}

// ensureServiceGrafana makes one pass of what the service sets up in its own Grafana:
// with bootstrapsGrafanaToken, its own service account and token (kept while Grafana
// accepts it, else replaced, stored encrypted), which every Grafana client then uses;
// then its own dashboard (ensureServiceDashboard).
// Every step is found before it is made, so a pass after any failure finishes the job.
func (m *Main) ensureServiceGrafana(ctx context.Context) error {
	if !m.Grafana.Enabled() {
		return nil
	}
	if m.bootstrapsGrafanaToken() {
		secrets := m.DB.ServiceSecrets(m.cipher)
		held, err := secrets.Get(ctx, db.SecretGrafanaToken)
		if err != nil && cg.ErrorCode(err) != cg.ENOTFOUND {
			m.Log.Warn().Err(err).Msg("the service's own Grafana token cannot be read: a new one is made")
		}
		admin, err := m.Grafana.Admin()
		if err != nil {
			return err
		}
		tok, isNew, err := admin.BootstrapServiceToken(ctx, held)
		if err != nil {
			return err
		}
		if isNew {
			if err := secrets.Set(ctx, db.SecretGrafanaToken, tok); err != nil {
				return err
			}
			m.Log.Info().Str("service_account", "credential-grafana-service").Msg("made the service's own Grafana token")
		}
		m.Grafana.SetServiceToken(tok)
	}
	return m.ensureServiceDashboard(ctx)
}

// ensureServiceDashboard provisions the service's own dashboard (grafana/templates/
// service.json) in its folder, over the master database through the read-only
// MonitorRole, whose password is made once and kept encrypted.
func (m *Main) ensureServiceDashboard(ctx context.Context) error {
	tpl, err := grafana.LoadServiceTemplate()
	if err != nil {
		return err
	}
	installation, err := m.DB.InstallationID(ctx)
	if err != nil {
		return err
	}
	secrets := m.DB.ServiceSecrets(m.cipher)
	pass, err := secrets.Get(ctx, db.SecretMonitorPassword)
	switch {
	case cg.ErrorCode(err) == cg.ENOTFOUND:
		if pass, err = secrets.SetIfAbsent(ctx, db.SecretMonitorPassword, db.RandomRolePassword()); err != nil {
			return err
		}
	case err != nil: // sealed under a key no longer configured: the role gets a new password
		m.Log.Warn().Err(err).Msg("the password of the service dashboard's role cannot be read: a new one is set")
		pass = db.RandomRolePassword()
		if err := secrets.Set(ctx, db.SecretMonitorPassword, pass); err != nil {
			return err
		}
	}
	role, err := m.DB.Provisioner().EnsureMonitorRole(ctx, pass)
	if err != nil {
		return fmt.Errorf("make the read-only role of the service's own dashboard: %w", err)
	}
	c, _, err := m.Grafana.For(nil)
	if err != nil {
		return err
	}
	saved, err := c.ProvisionServiceDashboard(ctx, tpl, grafana.ServiceDashboardRequest{
		InstallationID: installation, Host: cmp.Or(m.Config.UserDBHost, m.DB.Host()), Port: cmp.Or(m.Config.UserDBPort, int(m.DB.Port())), Database: m.DB.Database(),
		SSLMode: m.Config.UserDBSSLMode, Role: role, Password: pass,
	})
	if err != nil {
		return err
	}
	m.Log.Info().Str("dashboard_url", c.BaseURL()+saved.URL).Msg("the service's own dashboard is up to date")
	return nil
}

// startServiceGrafana runs ensureServiceGrafana in the background until a pass
// succeeds, logging each failure and trying again with a growing delay (10 s doubling
// to 10 min), so a Grafana that is not up yet never holds up the start. The returned
// function stops it and waits.
func (m *Main) startServiceGrafana(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		delay := 10 * time.Second
		for {
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Minute)
			err := m.ensureServiceGrafana(pctx)
			pcancel()
			if err == nil || ctx.Err() != nil {
				return
			}
			m.Log.Warn().Err(err).Dur("retry_in", delay).Msg("set up the service's own Grafana (token, dashboard); trying again")
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, 10*time.Minute)
		}
	}()
	return func() { cancel(); wg.Wait() }
}

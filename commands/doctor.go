package commands

import (
	"context"

	"credential-grafana/cg"
	"credential-grafana/db"
	"credential-grafana/grafana"
)

// DoctorConfig is what Doctor needs beyond the service's own parts.
type DoctorConfig struct {
	// Budget is the most connections to the master server the service opens at once
	// (PG_CONNECTIONS split as serve splits it): doctor checks it against the server,
	// and doctor and status print it with Grafana's share (see db.ConnectionSum).
	Budget db.Budget
	// Slack checks the Slack tokens and channel; nil reports Slack as not configured.
	Slack func(context.Context) []cg.Finding
}

// Doctor checks everything the service needs of PostgreSQL, Grafana and Slack, for the
// first contact with real ones: each finding is fine, or says what is wrong and the
// command or setting that fixes it. Grafana's check makes and deletes a folder, a
// dashboard and a data source (the latter through a short-lived test role on the master
// server). Administrators only.
func (s *Service) Doctor(ctx context.Context, actor Actor) ([]cg.Finding, error) {
	if err := requireAdmin(actor, "run doctor"); err != nil {
		return nil, err
	}
	out := s.db.Doctor(ctx, s.doctor.Budget, grafana.DataSourceMaxOpenConns)
	out = append(out, s.doctorGrafana(ctx)...)
	if s.doctor.Slack == nil {
		out = append(out, cg.Finding{Area: "slack", Check: "bot token", Skipped: true, Detail: "SLACK_BOT_TOKEN is not set: Slack is off"})
	} else {
		out = append(out, s.doctor.Slack(ctx)...)
	}
	return out, nil
}

func (s *Service) doctorGrafana(ctx context.Context) []cg.Finding {
	if s.grafana == nil || !s.grafana.Enabled() {
		return []cg.Finding{{Area: "grafana", Check: "reachable", Skipped: true, Detail: "GRAFANA_BASE_URL is not set: Grafana is off"}}
	}
	client, _, err := s.grafana.For(nil)
	if err != nil {
		return []cg.Finding{{Area: "grafana", Check: "reachable", Detail: err.Error(), Fix: "check GRAFANA_BASE_URL"}}
	}
	var out []cg.Finding
	var req grafana.DoctorRequest
	if admin, err := s.grafana.Admin(); err == nil {
		req.Admin = admin
	}
	probe, err := s.db.CreateProbeRole(ctx)
	if err != nil {
		out = append(out, cg.Finding{Area: "grafana", Check: "data sources", Detail: "cannot make a test role to point a data source at: " + err.Error(),
			Fix: "give the master role CREATEROLE (see the postgres lines)"})
	} else {
		defer func() { _ = s.db.DropProbeRole(context.WithoutCancel(ctx), probe) }()
		ds := grafana.DataSourceFor(grafana.ProvisionRequest{User: "doctor", Host: s.defaults.DBHost, Port: s.defaults.DBPort, SSLMode: s.defaults.DBSSLMode,
			Viewer: probe.Name, ViewerPassword: probe.Password, Databases: map[cg.Kind]string{cg.KindTiming: probe.Database}, MaxOpenConns: 1}, cg.KindTiming)
		req.Probe = &ds
	}
	return append(out, client.Doctor(ctx, req)...)
}

package bot

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the bot's Prometheus series.
type metrics struct {
	connected     prometheus.Gauge
	reconnects    prometheus.Counter
	envelopes     *prometheus.CounterVec
	acks          *prometheus.CounterVec
	handlerErrors *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cg_slack_connected", Help: "1 while the Socket Mode connection is up."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cg_slack_reconnects_total", Help: "Socket Mode clients restarted after Slack refused or dropped the connection."}),
		envelopes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cg_slack_envelopes_total", Help: "Socket Mode envelopes received, by type."}, []string{"type"}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cg_slack_acks_total", Help: "Socket Mode acks sent, by result."}, []string{"result"}),
		handlerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cg_slack_handler_errors_total", Help: "Slack requests that ended in an error, by handler."}, []string{"handler"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.connected, m.reconnects, m.envelopes, m.acks, m.handlerErrors} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}

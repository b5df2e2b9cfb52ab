package scheduler

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"credential-grafana/cg"
)

// Metrics counts what the scanner and the pipeline do, for /metrics. A nil *Metrics
// counts nothing.
type Metrics struct {
	tablesFound       *prometheus.CounterVec
	dashboardsCreated *prometheus.CounterVec
	recordings        prometheus.Histogram
	posts             *prometheus.CounterVec
	failures          *prometheus.CounterVec
}

// NewMetrics registers the scheduler's metrics on reg. queueDepth, if not nil, is read
// at each scrape.
func NewMetrics(reg prometheus.Registerer, queueDepth func() float64) *Metrics {
	m := &Metrics{
		tablesFound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cg_tables_found_total", Help: "Run tables found by scans, by kind and whether they fit the kind.",
		}, []string{"kind", "result"}),
		dashboardsCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cg_dashboards_created_total", Help: "Grafana dashboards created or updated, by kind.",
		}, []string{"kind"}),
		recordings: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cg_recording_duration_seconds", Help: "Time to record a dashboard's GIF.",
			Buckets: []float64{1, 2, 5, 10, 20, 30, 60, 120},
		}),
		posts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cg_posts_total", Help: "Dashboards posted to Slack, by kind.",
		}, []string{"kind"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cg_pipeline_failures_total", Help: "Failed pipeline steps (retried or not), by step.",
		}, []string{"step"}),
	}
	reg.MustRegister(m.tablesFound, m.dashboardsCreated, m.recordings, m.posts, m.failures)
	if queueDepth != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cg_queue_depth", Help: "Pipeline jobs waiting or running.",
		}, queueDepth))
	}
	return m
}

func (m *Metrics) tableFound(kind cg.Kind, compatible bool) {
	if m == nil {
		return
	}
	result := "compatible"
	if !compatible {
		result = "incompatible"
	}
	m.tablesFound.WithLabelValues(string(kind), result).Inc()
}

func (m *Metrics) dashboardCreated(kind cg.Kind) {
	if m != nil {
		m.dashboardsCreated.WithLabelValues(string(kind)).Inc()
	}
}

func (m *Metrics) recorded(d time.Duration) {
	if m != nil {
		m.recordings.Observe(d.Seconds())
	}
}

func (m *Metrics) posted(kind cg.Kind) {
	if m != nil {
		m.posts.WithLabelValues(string(kind)).Inc()
	}
}

func (m *Metrics) failure(step string) {
	if m != nil {
		m.failures.WithLabelValues(step).Inc()
	}
}

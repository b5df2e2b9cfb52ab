package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"credential-grafana/bot"
	"credential-grafana/commands/commandstest"
	"credential-grafana/grafana"
	"credential-grafana/scheduler"
)

// describingRegisterer records the metric names of every collector registered through
// it, from the collectors' own descriptions (a vector without series yet is named too,
// which Gather would leave out).
type describingRegisterer struct {
	prometheus.Registerer
	names map[string]bool
}

var fqNameRE = regexp.MustCompile(`fqName: "([^"]+)"`)

func (d *describingRegisterer) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		if m := fqNameRE.FindStringSubmatch(desc.String()); m != nil {
			d.names[m[1]] = true
		}
	}
	return d.Registerer.Register(c)
}

func (d *describingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := d.Register(c); err != nil {
			panic(err)
		}
	}
}

// TestPrometheusDashboardNamesOnlyExposedMetrics: the shipped Prometheus dashboard is a
// dashboard in Grafana 13.2's shape (schemaVersion 42, a pluginVersion on every panel,
// every query on the data source variable), and every metric its queries name is one
// /metrics exposes: the registrations NewMain makes (Go and process collectors, the
// pipeline's metrics and the bot's).
func TestPrometheusDashboardNamesOnlyExposedMetrics(t *testing.T) {
	reg := &describingRegisterer{Registerer: prometheus.NewRegistry(), names: map[string]bool{}}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	scheduler.NewMetrics(reg, func() float64 { return 0 })
	if _, err := bot.New(bot.Config{Service: commandstest.New(t).Service, BotToken: "xoxb-1-2-abc", AppToken: "xapp-1-A1-2-abc", Registerer: reg, Logger: zerolog.Nop()}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cg_queue_depth", "cg_posts_total", "cg_slack_connected", "go_goroutines"} {
		if !reg.names[want] {
			t.Fatalf("the registry does not describe %s: the test no longer sees what /metrics exposes (%v)", want, reg.names)
		}
	}
	exposed := func(name string) bool {
		if reg.names[name] {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} { // a histogram's series
			if base, ok := strings.CutSuffix(name, suffix); ok && reg.names[base] {
				return true
			}
		}
		return false
	}

	data, err := os.ReadFile(filepath.Join(moduleRoot, "grafana", "dashboards", "prometheus.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		SchemaVersion int `json:"schemaVersion"`
		Panels        []struct {
			Title         string         `json:"title"`
			PluginVersion string         `json:"pluginVersion"`
			Datasource    map[string]any `json:"datasource"`
			Targets       []struct {
				Expr       string         `json:"expr"`
				Datasource map[string]any `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("prometheus.json is not valid JSON: %v", err)
	}
	if dash.SchemaVersion != grafana.SchemaVersion || len(dash.Panels) == 0 {
		t.Fatalf("schemaVersion %d with %d panels, want %d and some", dash.SchemaVersion, len(dash.Panels), grafana.SchemaVersion)
	}
	// Words of PromQL that are not metric names.
	promQL := map[string]bool{"sum": true, "by": true, "rate": true, "increase": true, "min": true, "max": true,
		"histogram_quantile": true, "le": true, "kind": true, "result": true, "step": true, "type": true,
		"handler": true, "instance": true, "h": true, "s": true, "__rate_interval": true}
	word := regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if p.PluginVersion != grafana.PluginVersion {
			t.Errorf("panel %q: pluginVersion %q, want %q", p.Title, p.PluginVersion, grafana.PluginVersion)
		}
		if p.Datasource["uid"] != "${datasource}" || p.Datasource["type"] != "prometheus" {
			t.Errorf("panel %q: data source %v, want the ${datasource} variable", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		for _, tg := range p.Targets {
			expr := regexp.MustCompile(`\[[^\]]*\]|\{[^}]*\}|"[^"]*"`).ReplaceAllString(tg.Expr, " ") // ranges, label matchers, strings
			for _, w := range word.FindAllString(expr, -1) {
				if promQL[w] {
					continue
				}
				used[w] = true
				if !exposed(w) {
					t.Errorf("panel %q names %s, which /metrics does not expose", p.Title, w)
				}
			}
		}
	}
	var names []string
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) < 10 {
		t.Errorf("the dashboard uses only %v", names)
	}
}

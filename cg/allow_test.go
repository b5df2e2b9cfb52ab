package cg

import (
	"strings"
	"testing"
)

func TestNormalizeURL(t *testing.T) {
	cases := []struct{ in, want, err string }{
		{"https://Grafana.Example.com:443/", "https://grafana.example.com", ""},
		{"HTTP://LocalHost:80", "http://localhost", ""},
		{"http://localhost:3000/grafana/", "http://localhost:3000/grafana", ""},
		{"https://g:8443", "https://g:8443", ""},
		{"http://[::1]:80/", "http://[::1]", ""},
		{"http://127.0.0.1:9/?x=1#y", "http://127.0.0.1:9", ""},
		{"https://user:pw@g.example.com", "", "without a user name"},
		{"ftp://g.example.com", "", "http:// or https://"},
		{"grafana.example.com", "", "http:// or https://"},
	}
	for _, c := range cases {
		got, err := NormalizeURL(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("NormalizeURL(%q) = %q, %v; want error %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("NormalizeURL(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestAllowListComparesNormalisedValues(t *testing.T) {
	list := AllowList{DBHosts: []string{"DB.example.com.", "10.0.0.5"}, GrafanaURLs: []string{"https://grafana.example.com/"}}
	for _, h := range []string{"db.example.com", "DB.EXAMPLE.COM", "10.0.0.5"} {
		if err := list.CheckDBHost(h); err != nil {
			t.Errorf("CheckDBHost(%q): %v", h, err)
		}
	}
	for _, h := range []string{"169.254.169.254", "db.example.com.evil", "", "localhost"} {
		if err := list.CheckDBHost(h); ErrorCode(err) != EFORBIDDEN || !strings.Contains(err.Error(), "USER_DB_ALLOWED_HOSTS") {
			t.Errorf("CheckDBHost(%q): %v, want forbidden", h, err)
		}
	}
	for _, u := range []string{"https://Grafana.example.com:443", "HTTPS://grafana.example.com/"} {
		if err := list.CheckGrafanaURL(u); err != nil {
			t.Errorf("CheckGrafanaURL(%q): %v", u, err)
		}
	}
	for _, u := range []string{"http://grafana.example.com", "https://grafana.example.com:3000", "https://grafana.example.com.evil", "http://127.0.0.1:9/"} {
		if err := list.CheckGrafanaURL(u); ErrorCode(err) != EFORBIDDEN || !strings.Contains(err.Error(), "GRAFANA_ALLOWED_URLS") {
			t.Errorf("CheckGrafanaURL(%q): %v, want forbidden", u, err)
		}
	}
}

package cg

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// AllowList is where the service may be made to connect on a user's behalf: the hosts
// of user databases (USER_DB_ALLOWED_HOSTS) and the Grafana servers (GRAFANA_ALLOWED_URLS).
// The db_host and grafana_url credentials must name one of them when they are set and
// again when they are used. DNS names are compared as written, not resolved.
type AllowList struct {
	// DBHosts are host names or IP addresses, compared after NormalizeHost.
	DBHosts []string
	// GrafanaURLs are base URLs, compared after NormalizeURL.
	GrafanaURLs []string
}

// NormalizeHost is host in the form hosts are compared in: lower-case, without a
// trailing dot, an IP address in its canonical form ("::1", "10.0.0.5").
func NormalizeHost(host string) string {
	h := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(host)), ".")
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if ip := net.ParseIP(h); ip != nil {
		return ip.String()
	}
	return h
}

// NormalizeURL is an http(s) URL in the form URLs are compared in: scheme and host in
// lower case, the scheme's default port dropped, no trailing "/", no query or fragment
// ("HTTPS://Grafana.Example.com:443/" is "https://grafana.example.com"). Returns an
// error for anything but an http:// or https:// URL with a host.
func NormalizeURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return "", fmt.Errorf("expected an http:// or https:// URL such as https://grafana.example.com")
	}
	if u.User != nil {
		return "", fmt.Errorf("expected a URL without a user name or password in it")
	}
	host := NormalizeHost(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port := u.Port(); port != "" && !(u.Scheme == "http" && port == "80") && !(u.Scheme == "https" && port == "443") {
		host += ":" + port
	}
	return u.Scheme + "://" + host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

// CheckDBHost returns nil if host is one of DBHosts, else an EFORBIDDEN error that names
// the rule and who may change it.
func (a AllowList) CheckDBHost(host string) error {
	h := NormalizeHost(host)
	for _, allowed := range a.DBHosts {
		if h != "" && NormalizeHost(allowed) == h {
			return nil
		}
	}
	return Errorf(EFORBIDDEN, "db_host %s is not in USER_DB_ALLOWED_HOSTS (%s): the service connects only to database hosts its administrator allowed; the administrator of the service may add it to that list",
		h, listOrNone(a.DBHosts))
}

// CheckGrafanaURL returns nil if raw is one of GrafanaURLs, else an EFORBIDDEN error that
// names the rule and who may change it (or EINVALID if raw is not a URL).
func (a AllowList) CheckGrafanaURL(raw string) error {
	u, err := NormalizeURL(raw)
	if err != nil {
		return Errorf(EINVALID, "grafana_url: %v", err)
	}
	for _, allowed := range a.GrafanaURLs {
		if n, err := NormalizeURL(allowed); err == nil && n == u {
			return nil
		}
	}
	return Errorf(EFORBIDDEN, "grafana_url %s is not in GRAFANA_ALLOWED_URLS (%s): the service opens only the Grafana servers its administrator allowed; the administrator of the service may add it to that list",
		u, listOrNone(a.GrafanaURLs))
}

func listOrNone(list []string) string {
	if len(list) == 0 {
		return "empty"
	}
	return strings.Join(list, ", ")
}

// SplitList splits a comma-separated list, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

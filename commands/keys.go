package commands

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"credential-grafana/cg"
)

// KeyClass says who may set a credential key.
type KeyClass int

// Key classes.
const (
	// TenantKey values are the user's own: whoever may manage the user sets them
	// (db_pass, grafana_api_key, slack_bot_token, slack_channel_id).
	TenantKey KeyClass = iota
	// ConnectionKey values say where the service connects on the user's behalf: only an
	// administrator sets them, and only to a value on the allow-list (db_host in
	// USER_DB_ALLOWED_HOSTS, grafana_url in GRAFANA_ALLOWED_URLS; db_port has no list).
	ConnectionKey
	// SystemKey values are derived by the service (role and database names, the viewer's
	// password, the data source UIDs): nobody sets or deletes them, and `user retry`
	// derives them again.
	SystemKey
)

// String names the class as the refusals do.
func (c KeyClass) String() string {
	switch c {
	case ConnectionKey:
		return "connection"
	case SystemKey:
		return "system"
	}
	return "tenant"
}

// KeySpec describes one known credential key.
type KeySpec struct {
	// Name is the canonical, lowercase key.
	Name string
	// Class says who may set it.
	Class KeyClass
	// Secret values are encrypted at rest and masked when listed.
	Secret bool
	// Describe says in a few words what the value is.
	Describe string
	// check returns nil or says what is wrong with a value, in words a user can act on.
	check func(v string) error
}

var (
	pgIdentRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$-]{0,62}$`)
	grafanaUID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)
)

func checkHost(v string) error {
	if net.ParseIP(v) != nil {
		return nil
	}
	if validate.Var(v, "hostname_rfc1123") == nil {
		return nil
	}
	return fmt.Errorf("expected a host name or IP address such as db.example.com or 10.0.0.5, without a scheme or port")
}

func checkPort(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("expected a port number from 1 to 65535")
	}
	return nil
}

func checkIdent(v string) error {
	if !pgIdentRe.MatchString(v) {
		return fmt.Errorf("expected a PostgreSQL name: a letter or _, then letters, digits, _, $ or -, at most 63 characters")
	}
	return nil
}

func checkURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("expected an http:// or https:// URL such as https://grafana.example.com")
	}
	return nil
}

func checkPrefix(prefix, what string) func(string) error {
	return func(v string) error {
		if !strings.HasPrefix(v, prefix) || len(v) < len(prefix)+8 {
			return fmt.Errorf("expected %s, which starts with %q", what, prefix)
		}
		return nil
	}
}

func checkNonEmpty(v string) error {
	if v == "" {
		return fmt.Errorf("must not be empty")
	}
	return nil
}

// Keys is the catalogue of known credential keys.
var Keys = []KeySpec{
	{Name: "db_host", Class: ConnectionKey, Describe: "host of the user's PostgreSQL server, one of USER_DB_ALLOWED_HOSTS", check: checkHost},
	{Name: "db_port", Class: ConnectionKey, Describe: "port of the user's PostgreSQL server", check: checkPort},
	{Name: "db_user", Class: SystemKey, Describe: "role the user's flows write run tables with", check: checkIdent},
	{Name: "db_pass", Class: TenantKey, Secret: true, Describe: "password of db_user; setting it changes the role's password", check: checkNonEmpty},
	{Name: "db_viewer_user", Class: SystemKey, Describe: "read-only role Grafana reads with", check: checkIdent},
	{Name: "db_viewer_pass", Class: SystemKey, Secret: true, Describe: "password of db_viewer_user", check: checkNonEmpty},
	{Name: "db_timing_report", Class: SystemKey, Describe: "database of TIMING run tables", check: checkIdent},
	{Name: "db_qor", Class: SystemKey, Describe: "database of QOR run tables", check: checkIdent},
	{Name: "db_drc", Class: SystemKey, Describe: "database of DRC run tables", check: checkIdent},
	{Name: "grafana_url", Class: ConnectionKey, Describe: "the user's Grafana, one of GRAFANA_ALLOWED_URLS (overrides GRAFANA_BASE_URL)", check: checkURL},
	{Name: "grafana_api_key", Class: TenantKey, Secret: true, Describe: "Grafana service-account token for grafana_url", check: checkPrefix("glsa_", "a Grafana service-account token")},
	{Name: "grafana_uid_timing", Class: SystemKey, Describe: "UID of the TIMING data source in Grafana", check: checkGrafanaUID},
	{Name: "grafana_uid_qor", Class: SystemKey, Describe: "UID of the QOR data source in Grafana", check: checkGrafanaUID},
	{Name: "grafana_uid_drc", Class: SystemKey, Describe: "UID of the DRC data source in Grafana", check: checkGrafanaUID},
	{Name: "slack_bot_token", Class: TenantKey, Secret: true, Describe: "the user's own Slack bot token (overrides SLACK_BOT_TOKEN)", check: checkPrefix("xoxb-", "a Slack bot token")},
	{Name: "slack_channel_id", Class: TenantKey, Describe: "channel the user's runs are posted to (overrides SLACK_CHANNEL_ID)", check: checkChannel},
}

func checkGrafanaUID(v string) error {
	if !grafanaUID.MatchString(v) {
		return fmt.Errorf("expected a Grafana UID: letters, digits, _ or -, at most 40 characters")
	}
	return nil
}

func checkChannel(v string) error {
	if !slackChannelRe.MatchString(v) {
		return fmt.Errorf("expected a channel ID like C012AB3CD4E (or G… for a private channel), not a #name or a direct message (D…) (in Slack: channel details → About → Channel ID)")
	}
	return nil
}

var keyIndex = func() map[string]KeySpec {
	m := make(map[string]KeySpec, len(Keys))
	for _, k := range Keys {
		m[k.Name] = k
	}
	return m
}()

// aliases maps older spellings that differ by more than case to the canonical key.
var aliases = map[string]string{
	"db_password":               "db_pass",
	"db_timing":                 "db_timing_report",
	"db_timingreport":           "db_timing_report",
	"grafana_base_url":          "grafana_url",
	"grafana_token":             "grafana_api_key",
	"grafana_datasource_timing": "grafana_uid_timing",
	"grafana_datasource_qor":    "grafana_uid_qor",
	"grafana_datasource_drc":    "grafana_uid_drc",
	"slack_token":               "slack_bot_token",
	"slack_channel":             "slack_channel_id",
}

// LookupKey returns the spec of a key given in any case, with - or _ ("DB_host",
// "Grafana_api_key", "slack-channel-id"). An unknown key is refused with the nearest
// known one.
func LookupKey(name string) (KeySpec, error) {
	norm := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "-", "_")
	if a, ok := aliases[norm]; ok {
		norm = a
	}
	if k, ok := keyIndex[norm]; ok {
		return k, nil
	}
	if name == "" {
		return KeySpec{}, cg.Errorf(cg.EINVALID, "a credential key is required; known keys: %s", strings.Join(KeyNames(), ", "))
	}
	return KeySpec{}, cg.Errorf(cg.EINVALID, "unknown credential key %q: did you mean %q? Known keys: %s",
		truncate(name, 60), nearestKey(norm), strings.Join(KeyNames(), ", "))
}

// KeyNames lists the canonical keys, sorted.
func KeyNames() []string {
	out := make([]string, 0, len(Keys))
	for _, k := range Keys {
		out = append(out, k.Name)
	}
	sort.Strings(out)
	return out
}

// mayChange returns nil if actor may set or delete key on user, else an EFORBIDDEN
// error that names the rule and who may change the value.
func (k KeySpec) mayChange(actor Actor, user string) error {
	switch k.Class {
	case SystemKey:
		return cg.Errorf(cg.EFORBIDDEN, "%s is set by the service, not by anyone (not even an administrator): it is derived from the user's name and what the service provisioned; `user retry %s` (an administrator) derives it again",
			k.Name, user)
	case ConnectionKey:
		if !actor.Admin {
			return cg.Errorf(cg.EFORBIDDEN, "%s is a connection key: it says where the service connects for the user, so only an administrator may change it (to a value its allow-list permits)", k.Name)
		}
	}
	return nil
}

// allowed returns nil if value may be stored for a connection key, else an EFORBIDDEN
// error naming the allow-list.
func (k KeySpec) allowed(list cg.AllowList, value string) error {
	switch k.Name {
	case "db_host":
		return list.CheckDBHost(value)
	case "grafana_url":
		return list.CheckGrafanaURL(value)
	}
	return nil
}

// Check validates a value for this key.
func (k KeySpec) Check(value string) error {
	if len(value) > 4096 {
		return cg.Errorf(cg.EINVALID, "value of %s is too long: at most 4096 characters", k.Name)
	}
	if err := k.check(value); err != nil {
		if k.Secret {
			return cg.Errorf(cg.EINVALID, "invalid value for %s: %v", k.Name, err)
		}
		return cg.Errorf(cg.EINVALID, "invalid value %q for %s: %v", truncate(value, 80), k.Name, err)
	}
	return nil
}

func nearestKey(s string) string {
	best, _ := Nearest(s, KeyNames())
	return best
}

// Nearest returns the candidate closest to what was typed (fewest single-character
// edits) and its index, for "did you mean" answers; -1 when there are no candidates.
func Nearest(typed string, candidates []string) (string, int) {
	best, bestI, bestD := "", -1, 1<<30
	for i, c := range candidates {
		if d := cg.EditDistance(typed, c); d < bestD {
			best, bestI, bestD = c, i, d
		}
	}
	return best, bestI
}

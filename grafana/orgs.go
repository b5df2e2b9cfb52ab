package grafana

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"credential-grafana/cg"
)

// Organizations and service accounts. Checked against grafana/grafana:
//   - pkg/api/org.go: POST /api/orgs {"name"} answers 200 {"orgId":N,"message":
//     "Organization created"} (409 "Organization name taken"), and makes the caller the
//     org's Admin; GET /api/orgs/name/:name answers {"id","name","address"} (404
//     "Organization not found"); DELETE /api/orgs/:orgId answers 200 (404 when gone,
//     400 when it is the caller's current org). These need a server admin's Basic auth.
//     GET /api/org answers the caller's current org {"id","name"}; its permission
//     orgs:read is granted to every Viewer (pkg/api/accesscontrol.go,
//     fixed:organization:reader).
//   - pkg/services/authn/authnimpl/service.go: the org of a request is the
//     X-Grafana-Org-Id header; pkg/services/authn/clients/api_key.go: a token used with
//     another org's header answers 401 api-key.organization-mismatch, so a user's token
//     is sent without the header.
//   - pkg/services/serviceaccounts/api/api.go, token.go: POST /api/serviceaccounts
//     {"name","role","isDisabled"} answers 201 {"id","name","login","orgId","role",…}
//     (400 serviceaccounts.ErrAlreadyExists for a taken name); GET
//     /api/serviceaccounts/search?query= answers {"totalCount","serviceAccounts":[…]}
//     with every name that contains the query; POST /api/serviceaccounts/:id/tokens
//     {"name","secondsToLive"} answers 200 {"id","name","key"}, the key shown only
//     then; GET …/tokens lists {"id","name",…} without keys; DELETE
//     …/tokens/:tokenId. All of them act in the org of X-Grafana-Org-Id and need the
//     org Admin role.

// Isolation says how tenants are kept apart in the service's Grafana.
type Isolation string

const (
	// IsolationFolder puts every user's folder and data sources in one org
	// (GRAFANA_ORG_ID). In OSS Grafana every Viewer of that org can query every
	// user's data source: data-source permissions are an Enterprise feature.
	IsolationFolder Isolation = "folder"
	// IsolationOrg gives every user an org of its own, with a service account whose
	// token (the user's grafana_api_key) works in that org only. It needs a server
	// admin's Basic auth (GRAFANA_USER, GRAFANA_PASSWORD).
	IsolationOrg Isolation = "org"
)

// ServiceAccountName is the name of the service account ProvisionOrg makes in each
// user's org.
const ServiceAccountName = "credential-grafana"

// ServiceAccountRole is the org role of that service account: enough to make folders
// and dashboards and to query, not to change data sources (which the server admin
// provisions), so a user who reads its own token cannot point a data source at
// another host.
const ServiceAccountRole = "Editor"

// OrgName is the name of user's own org in IsolationOrg: "credential-grafana alice".
func OrgName(user string) string { return "credential-grafana " + user }

// Org is a Grafana organization.
type Org struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// InOrg returns a client like c that sends X-Grafana-Org-Id: orgID.
func (c *Client) InOrg(orgID int64) *Client {
	cfg := c.cfg
	cfg.OrgID = orgID
	return &Client{cfg: cfg, base: c.base, hc: c.hc, log: c.log, org: &orgCache{}}
}

// CreateOrg creates an org and returns its ID; only a server admin may. A taken name
// gives an error matching ErrConflict.
func (c *Client) CreateOrg(ctx context.Context, name string) (int64, error) {
	var r struct {
		OrgID int64 `json:"orgId"`
	}
	if err := c.do(ctx, request{method: http.MethodPost, path: "/api/orgs", body: map[string]string{"name": name}}, &r); err != nil {
		return 0, fmt.Errorf("create org %q: %w", name, err)
	}
	if r.OrgID == 0 {
		return 0, fmt.Errorf("create org %q: Grafana's answer has no orgId", name)
	}
	return r.OrgID, nil
}

// OrgByName returns the org of this name, or an error matching ErrNotFound.
func (c *Client) OrgByName(ctx context.Context, name string) (Org, error) {
	var o Org
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/orgs/name/" + url.PathEscape(name)}, &o); err != nil {
		return Org{}, fmt.Errorf("get org %q: %w", name, err)
	}
	return o, nil
}

// DeleteOrg deletes an org with everything in it (data sources, folders, dashboards,
// service accounts and their tokens). A missing org gives an error matching
// ErrNotFound.
func (c *Client) DeleteOrg(ctx context.Context, id int64) error {
	if err := c.do(ctx, request{method: http.MethodDelete, path: "/api/orgs/" + strconv.FormatInt(id, 10)}, nil); err != nil {
		return fmt.Errorf("delete org %d: %w", id, err)
	}
	return nil
}

type orgCache struct {
	mu sync.Mutex
	id int64
}

// CurrentOrgID is the org the client's requests act in: its OrgID when set, else the
// org of its token (GET /api/org, asked once and remembered).
func (c *Client) CurrentOrgID(ctx context.Context) (int64, error) {
	if c.cfg.OrgID != 0 {
		return c.cfg.OrgID, nil
	}
	c.org.mu.Lock()
	defer c.org.mu.Unlock()
	if c.org.id != 0 {
		return c.org.id, nil
	}
	var o Org
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/org"}, &o); err != nil {
		return 0, fmt.Errorf("get current org: %w", err)
	}
	c.org.id = o.ID
	return o.ID, nil
}

// ServiceAccount is a Grafana service account.
type ServiceAccount struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Login      string `json:"login"`
	OrgID      int64  `json:"orgId"`
	Role       string `json:"role"`
	IsDisabled bool   `json:"isDisabled"`
}

// CreateServiceAccount creates a service account with this org role in the client's
// org.
func (c *Client) CreateServiceAccount(ctx context.Context, name, role string) (ServiceAccount, error) {
	var sa ServiceAccount
	body := map[string]any{"name": name, "role": role, "isDisabled": false}
	if err := c.do(ctx, request{method: http.MethodPost, path: "/api/serviceaccounts", body: body}, &sa); err != nil {
		return ServiceAccount{}, fmt.Errorf("create service account %q: %w", name, err)
	}
	return sa, nil
}

// ServiceAccountByName returns the service account of exactly this name in the
// client's org, or an error matching ErrNotFound.
func (c *Client) ServiceAccountByName(ctx context.Context, name string) (ServiceAccount, error) {
	var r struct {
		ServiceAccounts []ServiceAccount `json:"serviceAccounts"`
	}
	q := url.Values{"query": {name}, "perpage": {"1000"}, "page": {"1"}}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/serviceaccounts/search", query: q}, &r); err != nil {
		return ServiceAccount{}, fmt.Errorf("find service account %q: %w", name, err)
	}
	for _, sa := range r.ServiceAccounts { // the search matches names that contain the query
		if sa.Name == name {
			return sa, nil
		}
	}
	return ServiceAccount{}, fmt.Errorf("find service account %q: %w", name,
		&APIError{StatusCode: http.StatusNotFound, Message: "no service account of that name", Method: http.MethodGet, Path: "/api/serviceaccounts/search"})
}

// ServiceAccountToken is a token of a service account as Grafana lists it (no key).
type ServiceAccountToken struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// ServiceAccountTokens lists the tokens of a service account.
func (c *Client) ServiceAccountTokens(ctx context.Context, serviceAccountID int64) ([]ServiceAccountToken, error) {
	var out []ServiceAccountToken
	path := "/api/serviceaccounts/" + strconv.FormatInt(serviceAccountID, 10) + "/tokens"
	if err := c.do(ctx, request{method: http.MethodGet, path: path}, &out); err != nil {
		return nil, fmt.Errorf("list tokens of service account %d: %w", serviceAccountID, err)
	}
	return out, nil
}

// CreateServiceAccountToken makes a token that never expires and returns its key,
// which Grafana shows only this once.
func (c *Client) CreateServiceAccountToken(ctx context.Context, serviceAccountID int64, name string) (cg.Secret, error) {
	var r struct {
		Key string `json:"key"`
	}
	path := "/api/serviceaccounts/" + strconv.FormatInt(serviceAccountID, 10) + "/tokens"
	if err := c.do(ctx, request{method: http.MethodPost, path: path, body: map[string]any{"name": name, "secondsToLive": 0}}, &r); err != nil {
		return "", fmt.Errorf("create token %q of service account %d: %w", name, serviceAccountID, err)
	}
	if r.Key == "" {
		return "", fmt.Errorf("create token %q of service account %d: Grafana's answer has no key", name, serviceAccountID)
	}
	return cg.Secret(r.Key), nil
}

// DeleteServiceAccountToken deletes a token; a missing one gives an error matching
// ErrNotFound.
func (c *Client) DeleteServiceAccountToken(ctx context.Context, serviceAccountID, tokenID int64) error {
	path := "/api/serviceaccounts/" + strconv.FormatInt(serviceAccountID, 10) + "/tokens/" + strconv.FormatInt(tokenID, 10)
	if err := c.do(ctx, request{method: http.MethodDelete, path: path}, nil); err != nil {
		return fmt.Errorf("delete token %d of service account %d: %w", tokenID, serviceAccountID, err)
	}
	return nil
}

// OrgProvisionRequest is a ProvisionRequest for IsolationOrg, with the token the user
// holds already (its grafana_api_key), if any.
type OrgProvisionRequest struct {
	ProvisionRequest
	// Token is the user's stored token. When it still works in the user's org it is
	// kept; otherwise a new one is made. Defaults to none.
	Token cg.Secret
}

// OrgProvisionResult is what ProvisionOrg made or found.
type OrgProvisionResult struct {
	ProvisionResult
	OrgID int64
	// Token is the user's token in its org: Token of the request when it still works,
	// else a new one (NewToken), which the caller must store.
	Token    cg.Secret
	NewToken bool
}

// ProvisionOrg makes sure the user's own org (OrgName) exists with its folder and data
// sources (as ProvisionUser, made as the server admin in that org) and a service
// account (ServiceAccountName, role ServiceAccountRole) whose token is returned. c
// must authenticate as a Grafana server admin (Basic auth); a token gives an error
// matching ErrForbidden. Everything is found by name or UID first, so running it again
// after any failure finishes the job without duplicates: a token that was made but
// not stored is deleted with the account's other unknown tokens before a new one is
// made, so the account keeps one token.
func (c *Client) ProvisionOrg(ctx context.Context, req OrgProvisionRequest) (OrgProvisionResult, error) {
	if !userNameRE.MatchString(req.User) {
		return OrgProvisionResult{}, cg.Errorf(cg.EINVALID, "user name %q is not valid: use a lowercase letter then up to 39 of a-z, 0-9, _ and -", req.User)
	}
	fail := func(err error) (OrgProvisionResult, error) {
		return OrgProvisionResult{}, fmt.Errorf("provision %s's Grafana org: %w", req.User, err)
	}
	orgID, err := c.ensureOrg(ctx, OrgName(req.User))
	if err != nil {
		return fail(err)
	}
	inOrg := c.InOrg(orgID)
	res, err := inOrg.ProvisionUser(ctx, req.ProvisionRequest)
	if err != nil {
		return OrgProvisionResult{}, err
	}
	out := OrgProvisionResult{ProvisionResult: res, OrgID: orgID}
	sa, err := inOrg.ensureServiceAccount(ctx, ServiceAccountName, ServiceAccountRole)
	if err != nil {
		return fail(err)
	}
	if out.Token, out.NewToken, err = inOrg.keepOrReplaceToken(ctx, sa, req.Token, orgID); err != nil {
		return fail(err)
	}
	return out, nil
}

// keepOrReplaceToken returns held when Grafana still accepts it as a token of org
// orgID; otherwise it deletes every token of service account sa (tokens nobody holds:
// made by an attempt whose answer, or whose storing, was lost) and makes one new one,
// so the account keeps one token. c acts in orgID. isNew says the token is new and
// must be stored by the caller.
func (c *Client) keepOrReplaceToken(ctx context.Context, sa ServiceAccount, held cg.Secret, orgID int64) (token cg.Secret, isNew bool, err error) {
	if !held.Empty() {
		ok, err := c.tokenWorksIn(ctx, held, orgID)
		if err != nil {
			return "", false, err
		}
		if ok {
			return held, false, nil
		}
	}
	tokens, err := c.ServiceAccountTokens(ctx, sa.ID)
	if err != nil {
		return "", false, err
	}
	for _, t := range tokens {
		if err := c.DeleteServiceAccountToken(ctx, sa.ID, t.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return "", false, err
		}
	}
	name := sa.Name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if token, err = c.CreateServiceAccountToken(ctx, sa.ID, name); err != nil {
		return "", false, err
	}
	return token, true, nil
}

func (c *Client) ensureOrg(ctx context.Context, name string) (int64, error) {
	o, err := c.OrgByName(ctx, name)
	if err == nil {
		return o.ID, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return 0, err
	}
	id, err := c.CreateOrg(ctx, name)
	if errors.Is(err, ErrConflict) { // made by a concurrent run, or an answer was lost
		o, err = c.OrgByName(ctx, name)
		id = o.ID
	}
	return id, err
}

// ensureServiceAccount returns the service account of this name in c's org, made with
// role if there is none.
func (c *Client) ensureServiceAccount(ctx context.Context, name, role string) (ServiceAccount, error) {
	sa, err := c.ServiceAccountByName(ctx, name)
	if err == nil {
		return sa, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return ServiceAccount{}, err
	}
	sa, err = c.CreateServiceAccount(ctx, name, role)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest {
		// Grafana answers a taken name with 400: made by a concurrent run.
		if found, ferr := c.ServiceAccountByName(ctx, name); ferr == nil {
			return found, nil
		}
	}
	return sa, err
}

// tokenWorksIn says whether token is accepted by Grafana as a token of org orgID.
func (c *Client) tokenWorksIn(ctx context.Context, token cg.Secret, orgID int64) (bool, error) {
	cfg := c.cfg
	cfg.Token, cfg.BasicUser, cfg.BasicPassword, cfg.OrgID = token, "", "", 0
	tc := &Client{cfg: cfg, base: c.base, hc: c.hc, log: c.log, org: &orgCache{}}
	id, err := tc.CurrentOrgID(ctx)
	if errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrForbidden) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return id == orgID, nil
}

// CheckOrgToken returns nil when token is a token of user's own org (OrgName), and a
// cg.EINVALID error saying so when it is not (or the org does not exist yet).
func (c *Client) CheckOrgToken(ctx context.Context, user string, token cg.Secret) error {
	o, err := c.OrgByName(ctx, OrgName(user))
	if errors.Is(err, ErrNotFound) {
		return cg.Errorf(cg.EINVALID, "user %s has no Grafana org yet: run `user retry %s`, which issues its token", user, user)
	}
	if err != nil {
		return err
	}
	ok, err := c.tokenWorksIn(ctx, token, o.ID)
	if err != nil {
		return err
	}
	if !ok {
		return cg.Errorf(cg.EINVALID, "the token is not one of Grafana org %q (GRAFANA_ISOLATION=org): use a token of that org's service account, or run `user retry %s` to issue one", o.Name, user)
	}
	return nil
}

// DeprovisionOrg deletes user's own org (OrgName) and with it, in Grafana, its data
// sources, folders, dashboards, service account and token. c must authenticate as a
// server admin and must not act in that org (Grafana refuses to delete the caller's
// current org): the service's client acts in GRAFANA_ORG_ID. A missing org is skipped,
// so it can be re-run. Only the org of exactly that name is deleted.
func (c *Client) DeprovisionOrg(ctx context.Context, user string) error {
	o, err := c.OrgByName(ctx, OrgName(user))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %s's Grafana org: %w", user, err)
	}
	if !strings.EqualFold(o.Name, OrgName(user)) {
		return fmt.Errorf("remove %s's Grafana org: Grafana answered org %q for %q", user, o.Name, OrgName(user))
	}
	if err := c.DeleteOrg(ctx, o.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("remove %s's Grafana org: %w", user, err)
	}
	return nil
}

package grafanatest

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Organizations, service accounts and who a request is, as Grafana has them. Checked
// against grafana/grafana:
//   - pkg/api/org.go: POST /api/orgs answers 200 {"orgId","message":"Organization
//     created"} and 409 "Organization name taken"; the creator becomes the org's Admin
//     (CreateWithMember). GET /api/orgs/name/:name answers {"id","name","address"} or
//     404 "Organization not found". DELETE /api/orgs/:orgId answers 200 "Organization
//     deleted", 404 "Failed to delete organization. ID not found", and 400 when the
//     org is the caller's current one ("Can not delete org for current user"; 12.x
//     says "Cannot delete your active organization"). The /api/orgs routes are for
//     server admins only (Basic auth): anyone else gets 403.
//   - pkg/services/authn/authnimpl/service.go: the request's org is the targetOrgId
//     query parameter or the X-Grafana-Org-Id header.
//   - pkg/services/authn/clients/api_key.go: a token used with another org answers
//     401 "API key does not belong to the requested organization"
//     (api-key.organization-mismatch); an unknown one 401 "Invalid API key".
//   - pkg/services/serviceaccounts/api/api.go and token.go: POST /api/serviceaccounts
//     (org Admin) answers 201 with the account; a duplicate name 400
//     (serviceaccounts.ErrAlreadyExists). GET /api/serviceaccounts/search?query=
//     answers {"totalCount","serviceAccounts","page","perPage"}, matching names that
//     contain the query. POST …/:id/tokens answers 200 {"id","name","key"} (the key
//     shown once), 404 for an account of another org, 409 for a duplicate token name;
//     GET …/:id/tokens lists them without keys; DELETE …/:id/tokens/:tokenId.
//   - pkg/services/accesscontrol/middleware.go: a missing permission answers 403
//     {"title":"Access denied","message":"You'll need additional permissions…"}.
//     Data-source writes need the org Admin role in OSS Grafana; saving dashboards
//     and folders Editor. The fake lets every role read.
// A Basic-auth user asking for an org it is not a member of is refused with 401 here
// (Grafana refuses it too; its exact answer was not checked).

// Org is an organization as the fake stores it.
type Org struct {
	ID   int64
	Name string
}

// ServiceAccount is a service account as the fake stores it.
type ServiceAccount struct {
	OrgID      int64
	ID         int64
	Name       string
	Login      string
	Role       string
	IsDisabled bool
	Tokens     []ServiceAccountToken
}

// ServiceAccountToken is one token of a service account, key included.
type ServiceAccountToken struct {
	ID      int64
	Name    string
	Key     string
	Created time.Time
}

type orgStore struct {
	id              int64
	name            string
	members         map[string]bool // logins of the Basic-auth users in the org
	folders         map[string]*Folder
	dataSources     map[string]*DataSource
	dashboards      map[string]*Dashboard
	serviceAccounts map[int64]*ServiceAccount
}

func newOrgStore(id int64, name string) *orgStore {
	return &orgStore{id: id, name: name, members: map[string]bool{}, folders: map[string]*Folder{},
		dataSources: map[string]*DataSource{}, dashboards: map[string]*Dashboard{}, serviceAccounts: map[int64]*ServiceAccount{}}
}

// tokenRef says whose a service-account token is.
type tokenRef struct{ orgID, serviceAccountID int64 }

// identity is who a request is and in which org.
type identity struct {
	orgID       int64
	role        string // Viewer, Editor or Admin in orgID
	serverAdmin bool
	key         string // what the identity was made from, for its session cookie
}

type identityKey struct{}

var roleRank = map[string]int{"None": 0, "Viewer": 1, "Editor": 2, "Admin": 3}

// requestOrgID is the org the request asks for, 0 for none.
func requestOrgID(r *http.Request) int64 {
	if v := r.URL.Query().Get("targetOrgId"); v != "" {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil && id > 0 {
			return id
		}
	}
	id, _ := strconv.ParseInt(r.Header.Get("X-Grafana-Org-Id"), 10, 64)
	return id
}

// authenticate says who r is: the service token (Admin of org 1), a service-account
// token (its role in its org), the server admin's Basic credentials (Admin in the org
// asked for, by default org 1) or the session cookie of an authenticated page load.
// ok is false when r presents nothing valid; refusal is then the 401 body for an
// /api/ path (nil: nothing was presented).
func (s *Server) authenticate(r *http.Request) (id identity, ok bool, refusal map[string]any) {
	invalid := map[string]any{"message": "Invalid API key", "messageId": "api-key.invalid", "statusCode": 401, "traceID": ""}
	want := requestOrgID(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	inOrg := func(id identity) (identity, bool, map[string]any) {
		if want != 0 && want != id.orgID {
			return identity{}, false, map[string]any{"message": "API key does not belong to the requested organization",
				"messageId": "api-key.organization-mismatch", "statusCode": 401, "traceID": ""}
		}
		if _, exists := s.orgs[id.orgID]; !exists {
			return identity{}, false, invalid
		}
		return id, true, nil
	}
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, found := strings.CutPrefix(h, "Bearer "); found {
			if tok == s.Token {
				return inOrg(identity{orgID: 1, role: "Admin", key: "token:" + tok})
			}
			ref, known := s.tokens[tok]
			if !known {
				return identity{}, false, invalid
			}
			sa := s.orgs[ref.orgID].serviceAccounts[ref.serviceAccountID]
			if sa == nil || sa.IsDisabled {
				return identity{}, false, invalid
			}
			return inOrg(identity{orgID: ref.orgID, role: sa.Role, key: "token:" + tok})
		}
		if u, p, found := r.BasicAuth(); found {
			if u != s.AdminUser || p != s.AdminPassword {
				return identity{}, false, invalid
			}
			org := cmpOr(want, 1)
			if o, exists := s.orgs[org]; !exists || !o.members[u] {
				return identity{}, false, map[string]any{"message": "Unauthorized", "messageId": "auth.unauthorized", "statusCode": 401, "traceID": ""}
			}
			return identity{orgID: org, role: "Admin", serverAdmin: true, key: "basic:" + u + ":" + strconv.FormatInt(org, 10)}, true, nil
		}
		return identity{}, false, invalid
	}
	if c, err := r.Cookie("grafana_session"); err == nil {
		id, known := s.sessions[c.Value]
		if !known {
			return identity{}, false, invalid
		}
		return inOrg(id)
	}
	return identity{}, false, nil
}

func cmpOr(v, def int64) int64 {
	if v == 0 {
		return def
	}
	return v
}

// caller is who r was authenticated as.
func caller(r *http.Request) identity {
	id, _ := r.Context().Value(identityKey{}).(identity)
	return id
}

// store is the org r works in; the caller holds s.mu. An org deleted since r was
// authenticated is an empty one.
func (s *Server) store(r *http.Request) *orgStore {
	if o, ok := s.orgs[caller(r).orgID]; ok {
		return o
	}
	return newOrgStore(caller(r).orgID, "")
}

// sessionFor is the grafana_session cookie value of r's identity: the page's script
// is then authenticated as the page load was, in the same org.
func (s *Server) sessionFor(r *http.Request) string {
	id := caller(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.sessionOf[id.key]; ok {
		return v
	}
	v := randomHex(16)
	s.sessionOf[id.key], s.sessions[v] = v, id
	return v
}

// allow answers 403 as Grafana's access control does unless r's role is at least
// role; permission names the permission in the message.
func allow(w http.ResponseWriter, r *http.Request, role, permission string) bool {
	if roleRank[caller(r).role] >= roleRank[role] {
		return true
	}
	writeJSON(w, http.StatusForbidden, map[string]any{"title": "Access denied", "accessErrorId": "ACE0000000000",
		"message": "You'll need additional permissions to perform this action. Permissions needed: " + permission})
	return false
}

// serverAdmin answers 403 unless r is the server admin's Basic auth.
func serverAdmin(w http.ResponseWriter, r *http.Request) bool {
	if caller(r).serverAdmin {
		return true
	}
	writeJSON(w, http.StatusForbidden, map[string]any{"message": "Permission denied"})
	return false
}

func (s *Server) sortedOrgs() []*orgStore {
	out := make([]*orgStore, 0, len(s.orgs))
	for _, o := range s.orgs {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// Orgs returns the organizations, sorted by ID.
func (s *Server) Orgs() []Org {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Org{}
	for _, o := range s.sortedOrgs() {
		out = append(out, Org{ID: o.id, Name: o.name})
	}
	return out
}

// ServiceAccounts returns the service accounts of an org with their tokens, sorted by
// ID.
func (s *Server) ServiceAccounts(orgID int64) []ServiceAccount {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []ServiceAccount{}
	if o, ok := s.orgs[orgID]; ok {
		for _, sa := range o.serviceAccounts {
			c := *sa
			c.Tokens = append([]ServiceAccountToken(nil), sa.Tokens...)
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ---------------------------------------------------------------- orgs

func orgView(o *orgStore) map[string]any {
	return map[string]any{"id": o.id, "name": o.name, "address": map[string]any{
		"address1": "", "address2": "", "city": "", "zipCode": "", "state": "", "country": ""}}
}

func (s *Server) currentOrg(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, orgView(s.store(r)))
}

func (s *Server) createOrg(w http.ResponseWriter, r *http.Request) {
	if !caller(r).serverAdmin {
		writeJSON(w, http.StatusForbidden, map[string]any{"message": "Access denied"})
		return
	}
	var b struct {
		Name string `json:"name"`
	}
	if !decode(w, r, &b) {
		return
	}
	if strings.TrimSpace(b.Name) == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "bad request data", "messageId": "bad-request"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.orgs {
		if strings.EqualFold(o.name, b.Name) {
			writeJSON(w, http.StatusConflict, map[string]any{"message": "Organization name taken"})
			return
		}
	}
	s.nextOrgID++
	o := newOrgStore(s.nextOrgID, b.Name)
	o.members[s.AdminUser] = true
	s.orgs[o.id] = o
	writeJSON(w, http.StatusOK, map[string]any{"orgId": o.id, "message": "Organization created"})
}

func (s *Server) orgByName(w http.ResponseWriter, r *http.Request) {
	if !serverAdmin(w, r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.orgs {
		if strings.EqualFold(o.name, r.PathValue("name")) {
			writeJSON(w, http.StatusOK, orgView(o))
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"message": "Organization not found"})
}

func (s *Server) deleteOrg(w http.ResponseWriter, r *http.Request) {
	if !serverAdmin(w, r) {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "orgId is invalid"})
		return
	}
	if id == caller(r).orgID {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Can not delete org for current user"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[id]; !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Failed to delete organization. ID not found"})
		return
	}
	// Grafana deletes the org's data sources, folders, dashboards, service accounts and
	// their tokens with it.
	delete(s.orgs, id)
	for k, ref := range s.tokens {
		if ref.orgID == id {
			delete(s.tokens, k)
		}
	}
	for v, sid := range s.sessions {
		if sid.orgID == id {
			delete(s.sessions, v)
			delete(s.sessionOf, sid.key)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "Organization deleted"})
}

// ---------------------------------------------------------------- service accounts

func serviceAccountView(sa *ServiceAccount) map[string]any {
	return map[string]any{"id": sa.ID, "name": sa.Name, "login": sa.Login, "orgId": sa.OrgID, "isDisabled": sa.IsDisabled,
		"role": sa.Role, "tokens": len(sa.Tokens), "avatarUrl": "/avatar/" + randomHex(16)}
}

func (s *Server) createServiceAccount(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, "Admin", "serviceaccounts:create") {
		return
	}
	var b struct {
		Name       string `json:"name"`
		Role       string `json:"role"`
		IsDisabled bool   `json:"isDisabled"`
	}
	if !decode(w, r, &b) {
		return
	}
	if strings.TrimSpace(b.Name) == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "service account name is required", "messageId": "serviceaccounts.ErrInvalidInput"})
		return
	}
	if b.Role == "" {
		b.Role = "Viewer"
	}
	if _, ok := roleRank[b.Role]; !ok {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "invalid role value: " + b.Role, "messageId": "serviceaccounts.ErrInvalidInput"})
		return
	}
	if roleRank[b.Role] > roleRank[caller(r).role] {
		writeJSON(w, http.StatusForbidden, map[string]any{"message": "can not assign a role higher than user's role", "messageId": "serviceaccounts.ErrRoleForbidden"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.store(r)
	for _, sa := range o.serviceAccounts {
		if strings.EqualFold(sa.Name, b.Name) {
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": "service account already exists", "messageId": "serviceaccounts.ErrAlreadyExists"})
			return
		}
	}
	s.nextID++
	sa := &ServiceAccount{OrgID: o.id, ID: s.nextID, Name: b.Name, Login: "sa-" + strconv.FormatInt(o.id, 10) + "-" + slugify(b.Name),
		Role: b.Role, IsDisabled: b.IsDisabled}
	o.serviceAccounts[sa.ID] = sa
	writeJSON(w, http.StatusCreated, serviceAccountView(sa))
}

func (s *Server) searchServiceAccounts(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, "Admin", "serviceaccounts:read") {
		return
	}
	q := strings.ToLower(r.URL.Query().Get("query"))
	perPage, _ := strconv.Atoi(r.URL.Query().Get("perpage"))
	if perPage <= 0 {
		perPage = 1000
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if page < 1 {
		page = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*ServiceAccount
	for _, sa := range s.store(r).serviceAccounts {
		if strings.Contains(strings.ToLower(sa.Name), q) || strings.Contains(strings.ToLower(sa.Login), q) {
			all = append(all, sa)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	out := []map[string]any{}
	for i := (page - 1) * perPage; i < len(all) && i < page*perPage; i++ {
		out = append(out, serviceAccountView(all[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"totalCount": len(all), "serviceAccounts": out, "page": page, "perPage": perPage})
}

// serviceAccount finds the account of the path in r's org, or answers 404.
func (s *Server) serviceAccount(w http.ResponseWriter, r *http.Request) *ServiceAccount {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Service Account ID is invalid"})
		return nil
	}
	sa, ok := s.store(r).serviceAccounts[id]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Failed to retrieve service account", "messageId": "serviceaccounts.ErrNotFound"})
		return nil
	}
	return sa
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, "Admin", "serviceaccounts:read") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sa := s.serviceAccount(w, r)
	if sa == nil {
		return
	}
	out := []map[string]any{}
	for _, t := range sa.Tokens {
		out = append(out, map[string]any{"id": t.ID, "name": t.Name, "created": t.Created.UTC().Format(time.RFC3339),
			"expiration": nil, "secondsUntilExpiration": 0, "hasExpired": false})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, "Admin", "serviceaccounts:write") {
		return
	}
	var b struct {
		Name          string `json:"name"`
		SecondsToLive int64  `json:"secondsToLive"`
	}
	if !decode(w, r, &b) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sa := s.serviceAccount(w, r)
	if sa == nil {
		return
	}
	if strings.TrimSpace(b.Name) == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "token name is required", "messageId": "serviceaccounts.ErrInvalidInput"})
		return
	}
	for _, other := range s.orgs[sa.OrgID].serviceAccounts {
		for _, t := range other.Tokens {
			if t.Name == b.Name {
				writeJSON(w, http.StatusConflict, map[string]any{"message": "service account token with given name already exists in the organization", "messageId": "serviceaccounts.ErrTokenAlreadyExists"})
				return
			}
		}
	}
	s.nextID++
	t := ServiceAccountToken{ID: s.nextID, Name: b.Name, Key: "glsa_" + randomHex(16) + "_" + randomHex(4), Created: time.Now()}
	sa.Tokens = append(sa.Tokens, t)
	s.tokens[t.Key] = tokenRef{orgID: sa.OrgID, serviceAccountID: sa.ID}
	writeJSON(w, http.StatusOK, map[string]any{"id": t.ID, "name": t.Name, "key": t.Key})
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, "Admin", "serviceaccounts:write") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sa := s.serviceAccount(w, r)
	if sa == nil {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("tokenID"), 10, 64)
	for i, t := range sa.Tokens {
		if t.ID == id {
			sa.Tokens = append(sa.Tokens[:i], sa.Tokens[i+1:]...)
			delete(s.tokens, t.Key)
			writeJSON(w, http.StatusOK, map[string]any{"message": "Service account token deleted"})
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"message": "Failed to delete API key", "messageId": "serviceaccounts.ErrTokenNotFound"})
}

package grafanatest

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ---------------------------------------------------------------- folders

func folderView(f *Folder) map[string]any {
	return map[string]any{
		"id": f.ID, "uid": f.UID, "title": f.Title, "url": "/dashboards/f/" + f.UID + "/" + slugify(f.Title),
		"hasAcl": false, "canSave": true, "canEdit": true, "canAdmin": true, "canDelete": true,
		"version": f.Version, "created": time.Now().UTC().Format(time.RFC3339), "updated": time.Now().UTC().Format(time.RFC3339),
	}
}

func (s *Server) listFolders(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, f := range s.store(r).folders {
		out = append(out, map[string]any{"id": f.ID, "uid": f.UID, "title": f.Title})
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["uid"].(string) < out[j]["uid"].(string) })
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createFolder(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, "Editor", "folders:create") {
		return
	}
	var body struct {
		UID   string `json:"uid"`
		Title string `json:"title"`
	}
	if !decode(w, r, &body) {
		return
	}
	if strings.TrimSpace(body.Title) == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "folder title cannot be empty", "messageId": "folder.title-empty"})
		return
	}
	if msg, ok := validUID(body.UID); !ok {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": msg, "messageId": "folder.invalid-uid"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if body.UID == "" {
		body.UID = randomHex(7)
	}
	if _, ok := s.store(r).folders[body.UID]; ok {
		writeJSON(w, http.StatusConflict, map[string]any{"message": "a folder with the same uid already exists", "messageId": "folder.uid-exists"})
		return
	}
	for _, f := range s.store(r).folders {
		if strings.EqualFold(f.Title, body.Title) {
			writeJSON(w, http.StatusConflict, map[string]any{"message": "a folder or dashboard in the general folder with the same name already exists", "messageId": "folder.same-name"})
			return
		}
	}
	s.nextID++
	f := &Folder{OrgID: s.store(r).id, ID: s.nextID, UID: body.UID, Title: body.Title, Version: 1}
	s.store(r).folders[f.UID] = f
	writeJSON(w, http.StatusOK, folderView(f))
}

func (s *Server) getFolder(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.store(r).folders[r.PathValue("uid")]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "folder not found", "messageId": "folder.notFound", "statusCode": 404})
		return
	}
	writeJSON(w, http.StatusOK, folderView(f))
}

func (s *Server) deleteFolder(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, "Editor", "folders:delete") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.store(r).folders[r.PathValue("uid")]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "folder not found", "messageId": "folder.notFound", "statusCode": 404})
		return
	}
	for uid, d := range s.store(r).dashboards {
		if d.FolderUID == f.UID {
			delete(s.store(r).dashboards, uid)
		}
	}
	delete(s.store(r).folders, f.UID)
	writeJSON(w, http.StatusOK, map[string]any{"id": f.ID, "title": f.Title, "message": "Folder deleted"})
}

// ---------------------------------------------------------------- data sources

func dataSourceView(d *DataSource) map[string]any {
	secure := map[string]bool{}
	for k := range d.SecureJSONData {
		secure[k] = true
	}
	jd := d.JSONData
	if jd == nil {
		jd = map[string]any{}
	}
	return map[string]any{
		"id": d.ID, "uid": d.UID, "orgId": d.OrgID, "name": d.Name, "type": d.Type, "typeName": "PostgreSQL",
		"typeLogoUrl": "public/app/plugins/datasource/grafana-postgresql-datasource/img/postgresql_logo.svg",
		"access":      d.Access, "url": d.URL, "user": d.User, "database": d.Database, "basicAuth": false,
		"withCredentials": false, "isDefault": d.IsDefault, "jsonData": jd, "secureJsonFields": secure,
		"version": d.Version, "readOnly": false,
	}
}

type dataSourceBody struct {
	UID            string            `json:"uid"`
	Name           string            `json:"name"`
	Type           string            `json:"type"`
	Access         string            `json:"access"`
	URL            string            `json:"url"`
	User           string            `json:"user"`
	Database       string            `json:"database"`
	IsDefault      bool              `json:"isDefault"`
	JSONData       map[string]any    `json:"jsonData"`
	SecureJSONData map[string]string `json:"secureJsonData"`
	Version        int               `json:"version"`
}

func (s *Server) listDataSources(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, d := range s.store(r).dataSources {
		out = append(out, dataSourceView(d))
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["name"].(string) < out[j]["name"].(string) })
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createDataSource(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, "Admin", "datasources:create") {
		return
	}
	var b dataSourceBody
	if !decode(w, r, &b) {
		return
	}
	if b.Name == "" || b.Type == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Required field name or type missing", "messageId": "datasource.validation"})
		return
	}
	if msg, ok := validUID(b.UID); !ok {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Failed to add datasource: " + msg, "messageId": "datasource.invalid-uid"})
		return
	}
	if s.pluginMissing(w, b.Type) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b.UID == "" {
		b.UID = randomHex(7)
	}
	for _, d := range s.store(r).dataSources {
		if d.Name == b.Name || d.UID == b.UID {
			writeJSON(w, http.StatusConflict, map[string]any{"message": "data source with the same name already exists", "messageId": "datasource.conflict"})
			return
		}
	}
	s.nextID++
	d := &DataSource{OrgID: s.store(r).id, ID: s.nextID, UID: b.UID, Name: b.Name, Type: b.Type, Access: orDefault(b.Access, "proxy"), URL: b.URL,
		User: b.User, Database: b.Database, IsDefault: b.IsDefault, JSONData: b.JSONData, SecureJSONData: b.SecureJSONData, Version: 1}
	if d.SecureJSONData == nil {
		d.SecureJSONData = map[string]string{}
	}
	s.store(r).dataSources[d.UID] = d
	writeJSON(w, http.StatusOK, map[string]any{"datasource": dataSourceView(d), "id": d.ID, "message": "Datasource added", "name": d.Name})
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func notFoundDataSource(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]any{"message": "Data source not found", "messageId": "datasource.notFound"})
}

func (s *Server) getDataSource(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.store(r).dataSources[r.PathValue("uid")]
	if !ok {
		notFoundDataSource(w)
		return
	}
	writeJSON(w, http.StatusOK, dataSourceView(d))
}

func (s *Server) updateDataSource(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, "Admin", "datasources:write") {
		return
	}
	var b dataSourceBody
	if !decode(w, r, &b) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.store(r).dataSources[r.PathValue("uid")]
	if !ok {
		notFoundDataSource(w)
		return
	}
	if b.Name == "" || b.Type == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Required field name or type missing", "messageId": "datasource.validation"})
		return
	}
	if b.Version != 0 && b.Version != d.Version {
		writeJSON(w, http.StatusConflict, map[string]any{"message": "Datasource has already been updated by someone else", "messageId": "datasource.version-mismatch"})
		return
	}
	for _, o := range s.store(r).dataSources {
		if o != d && o.Name == b.Name {
			writeJSON(w, http.StatusConflict, map[string]any{"message": "data source with the same name already exists", "messageId": "datasource.conflict"})
			return
		}
	}
	d.Name, d.Type, d.Access, d.URL, d.User, d.Database, d.IsDefault = b.Name, b.Type, orDefault(b.Access, d.Access), b.URL, b.User, b.Database, b.IsDefault
	d.JSONData = b.JSONData
	for k, v := range b.SecureJSONData {
		d.SecureJSONData[k] = v
	}
	d.Version++
	writeJSON(w, http.StatusOK, map[string]any{"datasource": dataSourceView(d), "id": d.ID, "message": "Datasource updated", "name": d.Name})
}

func (s *Server) deleteDataSource(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, "Admin", "datasources:delete") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.store(r).dataSources[r.PathValue("uid")]
	if !ok {
		notFoundDataSource(w)
		return
	}
	delete(s.store(r).dataSources, d.UID)
	writeJSON(w, http.StatusOK, map[string]any{"id": d.ID, "message": "Data source deleted"})
}

func (s *Server) checkDataSource(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	d, ok := s.store(r).dataSources[r.PathValue("uid")]
	var ds DataSource
	if ok {
		ds = cloneDataSource(d)
	}
	s.mu.Unlock()
	if !ok {
		notFoundDataSource(w)
		return
	}
	if s.pluginMissing(w, ds.Type) {
		return
	}
	conn, err := connect(r.Context(), ds)
	if err == nil {
		_, err = conn.Exec(r.Context(), "SELECT 1")
		_ = conn.Close(r.Context())
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": "ERROR", "message": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "OK", "message": "Database Connection OK"})
}

// ---------------------------------------------------------------- dashboards

func (s *Server) saveDashboard(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, "Editor", "dashboards:write") {
		return
	}
	var b struct {
		Dashboard map[string]any `json:"dashboard"`
		FolderUID string         `json:"folderUid"`
		Overwrite bool           `json:"overwrite"`
		Message   string         `json:"message"`
	}
	if !decode(w, r, &b) {
		return
	}
	if b.Dashboard == nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "dashboard is required", "status": "bad-request"})
		return
	}
	title, _ := b.Dashboard["title"].(string)
	if strings.TrimSpace(title) == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Dashboard title cannot be empty", "status": "empty-name"})
		return
	}
	uid, _ := b.Dashboard["uid"].(string)
	if msg, ok := validUID(uid); !ok {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": msg, "status": "invalid-uid"})
		return
	}
	if problem := dashboardProblem(b.Dashboard); problem != "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "fake Grafana 13.2 refuses what it would migrate: " + problem, "status": "bad-request"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b.FolderUID != "" {
		if _, ok := s.store(r).folders[b.FolderUID]; !ok {
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": "folder not found", "status": "not-found"})
			return
		}
	}
	if uid == "" {
		uid = randomHex(7)
	}
	existing := s.store(r).dashboards[uid]
	if existing != nil && !b.Overwrite {
		v, _ := b.Dashboard["version"].(float64)
		if int(v) != existing.Version {
			writeJSON(w, http.StatusPreconditionFailed, map[string]any{"message": "The dashboard has been changed by someone else", "status": "version-mismatch"})
			return
		}
	}
	for _, o := range s.store(r).dashboards {
		if o.UID != uid && o.FolderUID == b.FolderUID && strings.EqualFold(o.Title, title) {
			if !b.Overwrite {
				writeJSON(w, http.StatusPreconditionFailed, map[string]any{"message": "A dashboard with the same name in the folder already exists", "status": "name-exists"})
				return
			}
			// As Grafana does: overwriting takes over the dashboard of the same title.
			existing = o
			delete(s.store(r).dashboards, o.UID)
			uid = o.UID
			break
		}
	}
	d := &Dashboard{OrgID: s.store(r).id, UID: uid, Title: title, Slug: slugify(title), FolderUID: b.FolderUID, Message: b.Message, Version: 1}
	if existing != nil {
		d.ID, d.Version = existing.ID, existing.Version+1
	} else {
		s.nextID++
		d.ID = s.nextID
	}
	model := b.Dashboard
	model["id"], model["uid"], model["version"] = d.ID, d.UID, d.Version
	d.Model = model
	s.store(r).dashboards[uid] = d
	writeJSON(w, http.StatusOK, map[string]any{"id": d.ID, "uid": d.UID, "url": "/d/" + d.UID + "/" + d.Slug,
		"status": "success", "version": d.Version, "slug": d.Slug, "folderUid": d.FolderUID})
}

func notFoundDashboard(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]any{"message": "Dashboard not found", "messageId": "dashboards.notFound"})
}

func (s *Server) getDashboard(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.store(r).dashboards[r.PathValue("uid")]
	if !ok {
		notFoundDashboard(w)
		return
	}
	folderTitle := "Dashboards"
	if f, ok := s.store(r).folders[d.FolderUID]; ok {
		folderTitle = f.Title
	}
	writeJSON(w, http.StatusOK, map[string]any{"dashboard": d.Model, "meta": map[string]any{
		"type": "db", "canSave": true, "canEdit": true, "slug": d.Slug, "url": "/d/" + d.UID + "/" + d.Slug,
		"version": d.Version, "folderUid": d.FolderUID, "folderTitle": folderTitle, "provisioned": false,
	}})
}

func (s *Server) deleteDashboard(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, "Editor", "dashboards:delete") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.store(r).dashboards[r.PathValue("uid")]
	if !ok {
		notFoundDashboard(w)
		return
	}
	delete(s.store(r).dashboards, d.UID)
	writeJSON(w, http.StatusOK, map[string]any{"id": d.ID, "uid": d.UID, "title": d.Title, "message": "Dashboard " + d.Title + " deleted"})
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	typ := q.Get("type")
	words := strings.ToLower(q.Get("query"))
	folders := map[string]bool{}
	for _, f := range q["folderUIDs"] {
		for _, p := range strings.Split(f, ",") {
			folders[p] = true
		}
	}
	tags := q["tag"]
	limit, _ := strconv.Atoi(q.Get("limit"))
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	if typ == "" || typ == "dash-folder" {
		for _, f := range s.store(r).folders {
			if len(folders) > 0 || len(tags) > 0 || !strings.Contains(strings.ToLower(f.Title), words) {
				continue
			}
			out = append(out, map[string]any{"id": f.ID, "uid": f.UID, "title": f.Title, "uri": "db/" + slugify(f.Title),
				"url": "/dashboards/f/" + f.UID + "/" + slugify(f.Title), "type": "dash-folder", "tags": []string{}, "isStarred": false})
		}
	}
	if typ == "" || typ == "dash-db" {
		for _, d := range s.store(r).dashboards {
			if len(folders) > 0 && !folders[d.FolderUID] {
				continue
			}
			if !strings.Contains(strings.ToLower(d.Title), words) || !hasTags(d.Model, tags) {
				continue
			}
			hit := map[string]any{"id": d.ID, "uid": d.UID, "title": d.Title, "uri": "db/" + d.Slug, "url": "/d/" + d.UID + "/" + d.Slug,
				"slug": "", "type": "dash-db", "tags": modelTags(d.Model), "isStarred": false}
			if f, ok := s.store(r).folders[d.FolderUID]; ok {
				hit["folderId"], hit["folderUid"], hit["folderTitle"], hit["folderUrl"] = f.ID, f.UID, f.Title, "/dashboards/f/"+f.UID+"/"+slugify(f.Title)
			}
			out = append(out, hit)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["title"].(string) < out[j]["title"].(string) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	writeJSON(w, http.StatusOK, out)
}

func modelTags(m map[string]any) []string {
	out := []string{}
	ts, _ := m["tags"].([]any)
	for _, t := range ts {
		if s, ok := t.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func hasTags(m map[string]any, want []string) bool {
	have := map[string]bool{}
	for _, t := range modelTags(m) {
		have[t] = true
	}
	for _, t := range want {
		if !have[t] {
			return false
		}
	}
	return true
}

package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// file is an upload in any of its states.
type file struct {
	id             string
	name           string
	title          string
	altTxt         string
	length         int
	data           []byte
	uploaded       bool
	completed      bool
	created        time.Time
	processedAt    time.Time
	channels       []string
	shares         map[string]string // channel -> ts of the share message
	initialComment string
	threadTS       string
	token          string
}

// Upload is a file as the fake received it.
type Upload struct {
	FileID         string
	Filename       string
	Title          string
	Length         int    // announced to files.getUploadURLExternal
	Bytes          []byte // received at the upload URL
	Uploaded       bool   // the bytes arrived
	Completed      bool   // files.completeUploadExternal accepted it
	Channel        string // the first channel it was shared to
	Channels       []string
	InitialComment string
	ThreadTS       string
	Token          string
	Created        time.Time
}

// Uploads lists every file that files.getUploadURLExternal handed out, in order.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Upload, 0, len(s.fileOrder))
	for _, id := range s.fileOrder {
		f := s.files[id]
		u := Upload{
			FileID: f.id, Filename: f.name, Title: f.title, Length: f.length, Bytes: slices.Clone(f.data),
			Uploaded: f.uploaded, Completed: f.completed, Channels: slices.Clone(f.channels),
			InitialComment: f.initialComment, ThreadTS: f.threadTS, Token: f.token, Created: f.created,
		}
		if len(f.channels) > 0 {
			u.Channel = f.channels[0]
		}
		out = append(out, u)
	}
	return out
}

// CompletedUploads lists the uploads shared with files.completeUploadExternal.
func (s *Server) CompletedUploads() []Upload {
	var out []Upload
	for _, u := range s.Uploads() {
		if u.Completed {
			out = append(out, u)
		}
	}
	return out
}

func (s *Server) filesGetUploadURLExternal(c *apiCall) (map[string]any, *slackError) {
	name := c.p.str("filename")
	length, err := strconv.Atoi(c.p.str("length"))
	if name == "" || err != nil || length <= 0 {
		return nil, errCode("invalid_arguments")
	}
	f := &file{
		id: s.nextID("F"), name: name, title: name, altTxt: c.p.str("alt_txt"),
		length: length, created: c.now, token: c.token,
	}
	s.files[f.id] = f
	s.fileOrder = append(s.fileOrder, f.id)
	return map[string]any{"upload_url": s.ts.URL + "/upload/v1/" + f.id, "file_id": f.id}, nil
}

// handleUpload receives the bytes of a file, raw or as multipart form field "file" (what
// slack-go sends), and refuses a byte count other than the announced length.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	data, err := uploadBody(r)
	if err != nil {
		http.Error(w, "bad upload: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[r.PathValue("file")]
	switch {
	case f == nil || f.completed:
		http.Error(w, "Not Found", http.StatusNotFound)
	case len(data) != f.length:
		http.Error(w, fmt.Sprintf("length mismatch: expected %d bytes, received %d", f.length, len(data)), http.StatusBadRequest)
	default:
		f.data = data
		f.uploaded = true
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "OK - %d", len(data))
	}
}

func uploadBody(r *http.Request) ([]byte, error) {
	ct, ps, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		return io.ReadAll(r.Body)
	}
	mr := multipart.NewReader(r.Body, ps["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return nil, fmt.Errorf("no file part: %w", err)
		}
		if part.FormName() == "file" {
			return io.ReadAll(part)
		}
	}
}

func (s *Server) filesCompleteUploadExternal(c *apiCall) (map[string]any, *slackError) {
	var items []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal(c.p.raw("files"), &items); err != nil || len(items) == 0 {
		return nil, errCode("invalid_arguments")
	}
	var channels []string
	if id := c.p.str("channel_id"); id != "" {
		channels = append(channels, id)
	}
	if list := c.p.str("channels"); list != "" {
		channels = append(channels, strings.Split(list, ",")...)
	}
	for _, id := range channels {
		if _, e := s.postableChannel(id); e != nil {
			return nil, e
		}
		if e := s.checkChannelRate(id, c.now); e != nil {
			return nil, e
		}
	}
	threadTS := c.p.str("thread_ts")
	if _, ok := tsMicros(threadTS); threadTS != "" && (len(channels) != 1 || !ok) {
		return nil, errCode("invalid_thread_ts")
	}
	comment := c.p.str("initial_comment")
	if len(comment) > maxMessageText {
		return nil, errCode("msg_too_long")
	}
	var blocks json.RawMessage
	if comment == "" {
		if blocks = c.p.raw("blocks"); len(blocks) > 0 {
			if e := s.validateMessageBlocks(blocks); e != nil {
				return nil, e
			}
			if blocksTextLength(blocks) > s.cfg.blocksTextLimit {
				return nil, errCode("msg_blocks_too_long")
			}
		}
	}
	// "This method can only be called once" (Slack's reference for
	// files.completeUploadExternal): a completed file is not completed (shared) again.
	files := make([]*file, 0, len(items))
	for _, it := range items {
		f := s.files[it.ID]
		if f == nil || !f.uploaded || f.completed {
			return nil, errCode("file_not_found")
		}
		files = append(files, f)
	}
	summaries := make([]map[string]any, 0, len(files))
	ids := make([]string, 0, len(files))
	processed := c.now.Add(s.cfg.processingDelay)
	for i, f := range files {
		f.completed = true
		if items[i].Title != "" {
			f.title = items[i].Title
		}
		f.channels = channels
		f.initialComment = comment
		f.threadTS = threadTS
		f.processedAt = processed
		f.shares = map[string]string{}
		summaries = append(summaries, map[string]any{"id": f.id, "title": f.title})
		ids = append(ids, f.id)
	}
	for _, ch := range channels {
		s.lastPost[ch] = c.now
		m := &Message{
			Channel: ch, TS: s.nextTS(c.now), ThreadTS: threadTS, User: BotUserID, Text: comment,
			Blocks: blocks, Files: ids, Token: c.token, PostedAt: c.now, visibleAt: processed,
		}
		s.messages[ch] = append(s.messages[ch], m)
		for _, f := range files {
			f.shares[ch] = m.TS
		}
	}
	return map[string]any{"files": summaries}, nil
}

func (s *Server) fileJSON(f *file, now time.Time) map[string]any {
	ext := strings.TrimPrefix(path.Ext(f.name), ".")
	mt := mime.TypeByExtension(path.Ext(f.name))
	if mt == "" {
		mt = "application/octet-stream"
	}
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	private := s.ts.URL + "/files-pri/" + s.cfg.teamID + "-" + f.id + "/" + f.name
	out := map[string]any{
		"id": f.id, "created": f.created.Unix(), "timestamp": f.created.Unix(),
		"name": f.name, "title": f.title, "mimetype": mt, "filetype": ext, "pretty_type": strings.ToUpper(ext),
		"user": BotUserID, "user_team": s.cfg.teamID, "editable": false, "size": len(f.data), "mode": "hosted",
		"is_external": false, "external_type": "", "is_public": false, "public_url_shared": false,
		"display_as_bot": false, "username": "",
		"url_private": private, "url_private_download": private + "?download=1",
		"permalink": "https://" + s.cfg.teamDomain + ".slack.com/files/" + BotUserID + "/" + f.id + "/" + f.name,
		"channels":  []string{}, "groups": []string{}, "ims": []string{},
		"comments_count": 0, "has_rich_preview": false, "file_access": "visible",
	}
	if f.altTxt != "" {
		out["alt_txt"] = f.altTxt
	}
	if !f.completed || now.Before(f.processedAt) {
		return out
	}
	var chans, groups, ims []string
	public := map[string][]map[string]any{}
	private2 := map[string][]map[string]any{}
	for _, id := range f.channels {
		ch := s.channels[id]
		share := map[string]any{
			"ts": f.shares[id], "channel_name": ch.name, "team_id": s.cfg.teamID, "share_user_id": BotUserID,
			"reply_users": []string{}, "reply_users_count": 0, "reply_count": 0, "source": "UNKNOWN",
		}
		if f.threadTS != "" {
			share["thread_ts"] = f.threadTS
		}
		switch {
		case id[0] == 'D':
			ims = append(ims, id)
			private2[id] = append(private2[id], share)
		case ch.private:
			groups = append(groups, id)
			private2[id] = append(private2[id], share)
		default:
			chans = append(chans, id)
			public[id] = append(public[id], share)
		}
	}
	shares := map[string]any{}
	if len(public) > 0 {
		shares["public"] = public
		out["is_public"] = true
	}
	if len(private2) > 0 {
		shares["private"] = private2
	}
	out["shares"] = shares
	out["channels"] = nonNil(chans)
	out["groups"] = nonNil(groups)
	out["ims"] = nonNil(ims)
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// filesInfo answers file_not_found for an upload not completed yet; a completed one shows
// its shares only once processed (python-slack-sdk#1277: "there can be a visible delay
// until the shares in a file's metadata is properly updated").
func (s *Server) filesInfo(c *apiCall) (map[string]any, *slackError) {
	f := s.files[c.p.str("file")]
	if f == nil || !f.completed {
		return nil, errCode("file_not_found")
	}
	return map[string]any{
		"file": s.fileJSON(f, c.now), "comments": []any{},
		"response_metadata": map[string]any{"next_cursor": ""},
	}, nil
}

// filesList lists the completed files, newest first, filtered by channel (shares that
// finished processing), user, and creation time (ts_from/ts_to, inclusive Unix seconds).
func (s *Server) filesList(c *apiCall) (map[string]any, *slackError) {
	channelID := c.p.str("channel")
	user := c.p.str("user")
	from, errFrom := strconv.ParseInt(c.p.str("ts_from"), 10, 64)
	to, errTo := strconv.ParseInt(c.p.str("ts_to"), 10, 64)
	count := 100
	for _, k := range []string{"count", "limit"} {
		if v, err := strconv.Atoi(c.p.str(k)); err == nil && v > 0 {
			count = min(v, 1000)
		}
	}
	page := 1
	if v, err := strconv.Atoi(c.p.str("page")); err == nil && v > 0 {
		page = v
	}
	var matched []map[string]any
	for i := len(s.fileOrder) - 1; i >= 0; i-- {
		f := s.files[s.fileOrder[i]]
		if !f.completed {
			continue
		}
		if channelID != "" && (!slices.Contains(f.channels, channelID) || c.now.Before(f.processedAt)) {
			continue
		}
		if user != "" && user != BotUserID {
			continue
		}
		created := f.created.Unix()
		if errFrom == nil && created < from {
			continue
		}
		if errTo == nil && to > 0 && created > to {
			continue
		}
		matched = append(matched, s.fileJSON(f, c.now))
	}
	total := len(matched)
	pages := max(1, (total+count-1)/count)
	start := min((page-1)*count, total)
	end := min(start+count, total)
	files := matched[start:end]
	if files == nil {
		files = []map[string]any{}
	}
	return map[string]any{
		"files":             files,
		"paging":            map[string]any{"count": count, "total": total, "page": page, "pages": pages},
		"response_metadata": map[string]any{"next_cursor": ""},
	}, nil
}

// handleDownload serves a file's url_private to the bot token.
func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.checkToken(bearer(r), botTokenOnly); e != nil {
		http.Error(w, e.code, http.StatusForbidden)
		return
	}
	f := s.files[strings.TrimPrefix(r.PathValue("file"), s.cfg.teamID+"-")]
	if f == nil || !f.completed {
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write(f.data)
}

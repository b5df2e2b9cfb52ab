package slacktest

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// maxMessageText is the length at which Slack refuses a message's text with msg_too_long.
const maxMessageText = 40000

// Message is a message in a channel: posted with chat.postMessage, sent in_channel through a
// response_url, or the share of an uploaded file.
type Message struct {
	Channel     string
	TS          string
	ThreadTS    string
	User        string
	Text        string
	Blocks      json.RawMessage // as posted, nil without blocks
	Attachments json.RawMessage
	Metadata    json.RawMessage // {"event_type":…,"event_payload":…}, nil without
	Files       []string        // IDs of the files a file share carries
	Edited      bool            // changed with chat.update since
	Token       string          // the token it was posted with
	PostedAt    time.Time

	visibleAt time.Time
}

// Ephemeral is a message posted with chat.postEphemeral.
type Ephemeral struct {
	Channel  string
	User     string
	TS       string
	ThreadTS string
	Text     string
	Blocks   json.RawMessage
	PostedAt time.Time
}

// Messages lists the channel's messages, oldest first, as they are now (file shares appear
// once processing has finished).
func (s *Server) Messages(channelID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var out []Message
	for _, m := range s.messages[channelID] {
		if now.Before(m.visibleAt) {
			continue
		}
		cp := *m
		cp.Files = slices.Clone(m.Files)
		out = append(out, cp)
	}
	return out
}

// Ephemerals lists the ephemeral messages posted in the channel, oldest first.
func (s *Server) Ephemerals(channelID string) []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Ephemeral
	for _, e := range s.ephemerals {
		if e.Channel == channelID {
			out = append(out, e)
		}
	}
	return out
}

// writableChannel finds a channel the bot may post to: an ID that exists and that the bot
// is a member of. A private channel the bot is not in is invisible to it.
func (s *Server) writableChannel(id string) (*channel, *slackError) {
	c, err := s.visibleChannel(id)
	if err != nil {
		return nil, err
	}
	if !c.botMember {
		return nil, errCode("not_in_channel")
	}
	return c, nil
}

// postableChannel is a writableChannel that takes new messages: not archived.
func (s *Server) postableChannel(id string) (*channel, *slackError) {
	c, err := s.writableChannel(id)
	if err == nil && c.archived {
		return nil, errCode("is_archived")
	}
	return c, err
}

// visibleChannel finds a channel the bot can see.
func (s *Server) visibleChannel(id string) (*channel, *slackError) {
	if !channelIDPattern.MatchString(id) {
		return nil, errCode("channel_not_found")
	}
	c := s.channels[id]
	if c == nil || (c.private && !c.botMember) {
		return nil, errCode("channel_not_found")
	}
	return c, nil
}

// messageContent checks text, blocks, attachments and metadata as chat.postMessage and
// chat.update do.
func (s *Server) messageContent(p params, requireContent bool) (text string, blocks, attachments, metadata json.RawMessage, _ *slackError) {
	text = p.str("text")
	blocks = p.raw("blocks")
	attachments = p.raw("attachments")
	if requireContent && text == "" && len(blocks) == 0 && len(attachments) == 0 {
		return "", nil, nil, nil, errCode("no_text")
	}
	if utf8.RuneCountInString(text) > maxMessageText {
		return "", nil, nil, nil, errCode("msg_too_long")
	}
	if len(blocks) > 0 {
		if e := s.validateMessageBlocks(blocks); e != nil {
			return "", nil, nil, nil, e
		}
		if blocksTextLength(blocks) > s.cfg.blocksTextLimit {
			return "", nil, nil, nil, errCode("msg_blocks_too_long")
		}
	}
	if len(attachments) > 0 && !json.Valid(attachments) {
		return "", nil, nil, nil, errCode("invalid_attachments")
	}
	if raw := p.raw("metadata"); len(raw) > 0 {
		var md struct {
			EventType    string          `json:"event_type"`
			EventPayload json.RawMessage `json:"event_payload"`
		}
		if err := json.Unmarshal(raw, &md); err != nil || md.EventType == "" || len(md.EventPayload) == 0 || md.EventPayload[0] != '{' {
			return "", nil, nil, nil, errCode("invalid_metadata_format")
		}
		metadata = raw
	}
	return text, blocks, attachments, metadata, nil
}

func (s *Server) chatPostMessage(c *apiCall) (map[string]any, *slackError) {
	ch, e := s.postableChannel(c.p.str("channel"))
	if e != nil {
		return nil, e
	}
	text, blocks, attachments, metadata, e := s.messageContent(c.p, true)
	if e != nil {
		return nil, e
	}
	threadTS := c.p.str("thread_ts")
	if _, ok := tsMicros(threadTS); threadTS != "" && !ok {
		return nil, errCode("invalid_thread_ts")
	}
	if e := s.checkChannelRate(ch.id, c.now); e != nil {
		return nil, e
	}
	s.lastPost[ch.id] = c.now
	m := &Message{
		Channel: ch.id, TS: s.nextTS(c.now), ThreadTS: threadTS, User: BotUserID, Text: text,
		Blocks: blocks, Attachments: attachments, Metadata: metadata, Token: c.token, PostedAt: c.now,
	}
	s.messages[ch.id] = append(s.messages[ch.id], m)
	return map[string]any{"channel": ch.id, "ts": m.TS, "message": s.messageJSON(m, false)}, nil
}

func (s *Server) chatPostEphemeral(c *apiCall) (map[string]any, *slackError) {
	ch, e := s.postableChannel(c.p.str("channel"))
	if e != nil {
		return nil, e
	}
	user := c.p.str("user")
	if user == "" {
		return nil, errCode("user_not_found")
	}
	if ch.members != nil && !ch.members[user] {
		return nil, errCode("user_not_in_channel")
	}
	text, blocks, _, _, e := s.messageContent(c.p, true)
	if e != nil {
		return nil, e
	}
	ts := s.nextTS(c.now)
	s.ephemerals = append(s.ephemerals, Ephemeral{
		Channel: ch.id, User: user, TS: ts, ThreadTS: c.p.str("thread_ts"), Text: text, Blocks: blocks, PostedAt: c.now,
	})
	return map[string]any{"message_ts": ts}, nil
}

func (s *Server) chatUpdate(c *apiCall) (map[string]any, *slackError) {
	ch, e := s.visibleChannel(c.p.str("channel"))
	if e != nil {
		return nil, e
	}
	m := s.findMessage(ch.id, c.p.str("ts"))
	if m == nil {
		return nil, errCode("message_not_found")
	}
	if m.User != BotUserID {
		return nil, errCode("cant_update_message")
	}
	text, blocks, attachments, metadata, e := s.messageContent(c.p, false)
	if e != nil {
		return nil, e
	}
	if c.p.has("text") {
		m.Text = text
	}
	if c.p.has("blocks") {
		m.Blocks = blocks
	}
	if c.p.has("attachments") {
		m.Attachments = attachments
	}
	if metadata != nil {
		m.Metadata = metadata
	}
	m.Edited = true
	return map[string]any{"channel": ch.id, "ts": m.TS, "text": m.Text, "message": s.messageJSON(m, false)}, nil
}

func (s *Server) findMessage(channelID, ts string) *Message {
	for _, m := range s.messages[channelID] {
		if m.TS == ts {
			return m
		}
	}
	return nil
}

// messageJSON renders a message as the Web API does.
func (s *Server) messageJSON(m *Message, withMetadata bool) map[string]any {
	out := map[string]any{"type": "message", "user": m.User, "text": m.Text, "ts": m.TS, "team": s.cfg.teamID}
	if m.User == BotUserID {
		out["bot_id"] = BotID
		out["app_id"] = AppID
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if len(m.Blocks) > 0 {
		out["blocks"] = m.Blocks
	}
	if len(m.Attachments) > 0 {
		out["attachments"] = m.Attachments
	}
	if withMetadata && len(m.Metadata) > 0 {
		out["metadata"] = m.Metadata
	}
	if m.Edited {
		out["edited"] = map[string]any{"user": m.User, "ts": m.TS}
	}
	if len(m.Files) > 0 {
		files := make([]map[string]any, 0, len(m.Files))
		for _, id := range m.Files {
			if f := s.files[id]; f != nil {
				files = append(files, s.fileJSON(f, time.Now()))
			}
		}
		out["files"] = files
		out["upload"] = true
		out["display_as_bot"] = false
	}
	return out
}

func (s *Server) channelJSON(c *channel) map[string]any {
	return map[string]any{
		"id": c.id, "name": c.name, "name_normalized": c.name,
		"is_channel": !c.private && c.id[0] == 'C', "is_group": c.private && c.id[0] != 'D',
		"is_im": c.id[0] == 'D', "is_private": c.private, "is_member": c.botMember,
		"is_archived": c.archived, "is_general": false, "is_shared": false, "is_org_shared": false,
		"created": c.created.Unix(), "creator": "U0000ADMIN",
		"context_team_id": s.cfg.teamID,
		"topic":           map[string]any{"value": c.topic, "creator": "", "last_set": 0},
		"purpose":         map[string]any{"value": "", "creator": "", "last_set": 0},
	}
}

func (s *Server) conversationsJoin(c *apiCall) (map[string]any, *slackError) {
	id := c.p.str("channel")
	if !channelIDPattern.MatchString(id) {
		return nil, errCode("channel_not_found")
	}
	ch := s.channels[id]
	if ch == nil {
		return nil, errCode("channel_not_found")
	}
	if ch.private {
		if !ch.botMember {
			return nil, errCode("channel_not_found")
		}
		return nil, errCode("method_not_supported_for_channel_type")
	}
	if ch.archived {
		return nil, errCode("is_archived")
	}
	body := map[string]any{}
	if ch.botMember {
		body["warning"] = "already_in_channel"
		body["response_metadata"] = map[string]any{"warnings": []string{"already_in_channel"}}
	} else {
		ch.botMember = true
		s.joins = append(s.joins, id)
	}
	body["channel"] = s.channelJSON(ch)
	return body, nil
}

func (s *Server) conversationsInfo(c *apiCall) (map[string]any, *slackError) {
	ch, e := s.visibleChannel(c.p.str("channel"))
	if e != nil {
		return nil, e
	}
	return map[string]any{"channel": s.channelJSON(ch)}, nil
}

func (s *Server) conversationsHistory(c *apiCall) (map[string]any, *slackError) {
	ch, e := s.writableChannel(c.p.str("channel"))
	if e != nil {
		return nil, e
	}
	limit := 100
	if v, err := strconv.Atoi(c.p.str("limit")); err == nil && v > 0 {
		limit = min(v, 999)
	}
	inclusive := c.p.boolean("inclusive")
	oldest, hasOldest := tsMicros(c.p.str("oldest"))
	latest, hasLatest := tsMicros(c.p.str("latest"))
	withMetadata := c.p.boolean("include_all_metadata")

	var msgs []map[string]any
	all := s.messages[ch.id]
	for i := len(all) - 1; i >= 0; i-- {
		m := all[i]
		if c.now.Before(m.visibleAt) || (m.ThreadTS != "" && m.ThreadTS != m.TS) {
			continue
		}
		t, _ := tsMicros(m.TS)
		if hasOldest && (t < oldest || (!inclusive && t == oldest)) {
			continue
		}
		if hasLatest && (t > latest || (!inclusive && t == latest)) {
			continue
		}
		msgs = append(msgs, s.messageJSON(m, withMetadata))
	}
	hasMore := len(msgs) > limit
	if hasMore {
		msgs = msgs[:limit]
	}
	if msgs == nil {
		msgs = []map[string]any{}
	}
	return map[string]any{
		"messages": msgs, "has_more": hasMore, "pin_count": 0,
		"response_metadata": map[string]any{"next_cursor": ""},
	}, nil
}

package slacktest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const (
	// maxAckSize is the size from which Slack silently drops a Socket Mode response.
	maxAckSize = 20 * 1024
	// ackBudget is how long Slack waits for an ack.
	ackBudget = 3 * time.Second
)

// socketConn is one Socket Mode WebSocket connection.
type socketConn struct {
	id        int
	ws        *websocket.Conn
	wmu       sync.Mutex
	done      chan struct{}
	closeOnce sync.Once
}

func (c *socketConn) writeJSON(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteJSON(v)
}

func (c *socketConn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.wmu.Lock()
		_ = c.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.wmu.Unlock()
		_ = c.ws.Close()
	})
}

func (s *Server) appsConnectionsOpen(c *apiCall) (map[string]any, *slackError) {
	ticket := s.nextID("ticket")
	s.tickets[ticket] = true
	wsURL := "ws" + strings.TrimPrefix(s.ts.URL, "http") + "/link/?ticket=" + ticket + "&app_id=" + AppID
	return map[string]any{"url": wsURL}, nil
}

var upgrader = websocket.Upgrader{
	// slack-go sends Origin: https://api.slack.com.
	CheckOrigin: func(*http.Request) bool { return true },
}

func (s *Server) handleSocket(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	valid := s.tickets[ticket] && !s.closed && !s.tokens[defaultAppToken].revoked
	delete(s.tickets, ticket)
	s.mu.Unlock()
	if !valid {
		http.Error(w, "invalid or used ticket", http.StatusUnauthorized)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.connects++
	c := &socketConn{id: s.connects, ws: ws, done: make(chan struct{})}
	if s.closed {
		s.mu.Unlock()
		c.close()
		return
	}
	// The connection is visible to senders (and Disconnect) from now on, but its write
	// lock is held until hello is out, so nothing reaches the client before hello.
	c.wmu.Lock()
	s.conns = append(s.conns, c)
	n := len(s.conns)
	s.broadcast()
	s.mu.Unlock()
	hello := map[string]any{
		"type": "hello", "num_connections": n,
		"debug_info":      map[string]any{"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
		"connection_info": map[string]any{"app_id": AppID},
	}
	_ = ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	err = ws.WriteJSON(hello)
	c.wmu.Unlock()
	if err != nil {
		s.dropConn(c)
		c.close()
		return
	}
	ws.SetPongHandler(func(string) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.pongs++
		s.broadcast()
		return nil
	})

	go s.pingLoop(c)
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			break
		}
		s.receive(data)
	}
	s.dropConn(c)
	c.close()
}

// pingLoop sends WebSocket PINGs at once and then every ping interval, as Slack does.
func (s *Server) pingLoop(c *socketConn) {
	tick := time.NewTicker(s.cfg.pingInterval)
	defer tick.Stop()
	for i := 0; ; i++ {
		if err := c.ws.WriteControl(websocket.PingMessage, fmt.Appendf(nil, "ping-%d", i), time.Now().Add(5*time.Second)); err != nil {
			return
		}
		select {
		case <-c.done:
			return
		case <-tick.C:
		}
	}
}

func (s *Server) dropConn(c *socketConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, cc := range s.conns {
		if cc == c {
			s.conns = append(s.conns[:i:i], s.conns[i+1:]...)
			return
		}
	}
}

// broadcast wakes everything waiting on s.changed. Call with s.mu held.
func (s *Server) broadcast() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Pongs is how many WebSocket PONGs the clients answered the fake's PINGs with.
func (s *Server) Pongs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pongs
}

// WaitPongs waits until the clients have answered n PINGs in all.
func (s *Server) WaitPongs(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		ok := s.pongs >= n
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %d pongs: %w", n, ctx.Err())
		case <-ch:
		}
	}
}

// Connections is the number of open Socket Mode connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Connects is how many Socket Mode connections were ever accepted: a client that
// reconnected has raised it.
func (s *Server) Connects() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connects
}

// WaitConnected waits until at least n Socket Mode connections have been accepted since the
// server started (Connects() >= n) and one is open.
func (s *Server) WaitConnected(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		ok := s.connects >= n && len(s.conns) > 0
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for socket mode connection %d: %w", n, ctx.Err())
		case <-ch:
		}
	}
}

// Disconnect asks every connected client to reconnect, as Slack does: a
// {"type":"disconnect","reason":reason} frame (reason is "refresh_requested", "warning",
// "link_disabled" or "too_many_websockets"), then the connection closes.
func (s *Server) Disconnect(reason string) {
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.writeJSON(map[string]any{
			"type": "disconnect", "reason": reason,
			"debug_info": map[string]any{"host": "applink-fake"},
		})
		c.close()
	}
}

// Ack is a Socket Mode acknowledgement the fake received.
type Ack struct {
	EnvelopeID string
	Payload    json.RawMessage // nil when the ack carried none
	ReceivedAt time.Time
	Latency    time.Duration // since the envelope was sent; zero for unknown envelopes
	Late       bool          // after Slack's 3-second budget: Slack has already given up on it
	Dropped    bool          // 20 KiB or more: Slack ignores it, and WaitAck keeps waiting
}

// Acks lists every ack received, in order.
func (s *Server) Acks() []Ack {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Ack(nil), s.acks...)
}

func (s *Server) receive(data []byte) {
	var msg struct {
		EnvelopeID string          `json:"envelope_id"`
		Payload    json.RawMessage `json:"payload"`
	}
	if json.Unmarshal(data, &msg) != nil || msg.EnvelopeID == "" {
		return
	}
	ack := Ack{EnvelopeID: msg.EnvelopeID, ReceivedAt: time.Now(), Dropped: len(data) >= maxAckSize}
	if len(msg.Payload) > 0 && string(msg.Payload) != "null" {
		ack.Payload = msg.Payload
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.pending[msg.EnvelopeID]
	if d != nil {
		ack.Latency = ack.ReceivedAt.Sub(d.SentAt)
		ack.Late = ack.Latency > ackBudget
	}
	s.acks = append(s.acks, ack)
	if d != nil && !ack.Dropped {
		delete(s.pending, msg.EnvelopeID)
		if d.viewID != "" && ack.Payload != nil {
			s.applyResponseAction(d, ack)
		}
		d.ack <- ack
	}
}

// applyResponseAction does what Slack does with a view_submission ack's response_action:
// "update" replaces the submitted view, "push" opens a new one on top of it. Views Slack
// would refuse are ignored, as Slack shows the user an error instead. Call with s.mu held.
func (s *Server) applyResponseAction(d *Delivery, ack Ack) {
	var ra struct {
		ResponseAction string          `json:"response_action"`
		View           json.RawMessage `json:"view"`
	}
	if json.Unmarshal(ack.Payload, &ra) != nil || (ra.ResponseAction != "update" && ra.ResponseAction != "push") {
		return
	}
	v := s.views[d.viewID]
	fields, e := s.validateView(ra.View, "modal")
	if v == nil || e != nil {
		return
	}
	method := "response_action:" + ra.ResponseAction
	if ra.ResponseAction == "update" {
		v.fields = fields
		v.hash = s.newHash()
	} else {
		pushed := s.newView(v.userID, "modal", fields)
		pushed.rootID, pushed.previousID = v.rootID, v.id
		v = pushed
	}
	s.viewCalls = append(s.viewCalls, ViewCall{Method: method, ViewID: v.id, UserID: v.userID, View: ra.View, At: ack.ReceivedAt})
}

// Delivery is an envelope the fake sent to a Socket Mode client.
type Delivery struct {
	EnvelopeID   string
	Type         string // slash_commands, interactive, events_api
	Payload      json.RawMessage
	RetryAttempt int
	RetryReason  string
	// AcceptsResponsePayload is what the envelope said: true for slash commands and
	// view submissions.
	AcceptsResponsePayload bool
	SentAt                 time.Time
	// ResponseURL and TriggerID are set when the payload carries them.
	ResponseURL string
	TriggerID   string
	// EventID is set for events_api envelopes.
	EventID string

	s      *Server
	ack    chan Ack
	viewID string // the submitted view, for view_submission
}

// WaitAck waits for the client's ack of this envelope.
func (d *Delivery) WaitAck(ctx context.Context) (Ack, error) {
	select {
	case a := <-d.ack:
		d.ack <- a // keep it for later calls
		return a, nil
	case <-ctx.Done():
		return Ack{}, fmt.Errorf("wait for ack of envelope %s: %w", d.EnvelopeID, ctx.Err())
	}
}

// ResponsePosts lists what was posted to this delivery's response_url.
func (d *Delivery) ResponsePosts() []ResponsePost {
	if d.ResponseURL == "" {
		return nil
	}
	return d.s.ResponsePosts(d.ResponseURL)
}

// ErrClosed is returned when the fake has shut down.
var ErrClosed = errors.New("slacktest: server closed")

// send delivers an envelope to one open connection, waiting until one is open.
func (s *Server) send(ctx context.Context, d *Delivery, acceptsResponse bool) (*Delivery, error) {
	d.s = s
	d.ack = make(chan Ack, 1)
	d.AcceptsResponsePayload = acceptsResponse
	if d.EnvelopeID == "" {
		s.mu.Lock()
		s.seq++
		d.EnvelopeID = fmt.Sprintf("%08x-fake-4e7a-9b3c-%012x", time.Now().UnixNano()&0xffffffff, s.seq)
		s.mu.Unlock()
	}
	env := map[string]any{
		"envelope_id": d.EnvelopeID, "type": d.Type, "payload": d.Payload,
		"accepts_response_payload": acceptsResponse,
	}
	if d.RetryAttempt > 0 || d.Type == "events_api" {
		env["retry_attempt"] = d.RetryAttempt
		env["retry_reason"] = d.RetryReason
	}
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		var c *socketConn
		if len(s.conns) > 0 {
			s.rr++
			c = s.conns[s.rr%len(s.conns)]
		}
		changed := s.changed
		if c != nil {
			d.SentAt = time.Now()
			s.pending[d.EnvelopeID] = d
		}
		s.mu.Unlock()
		if c == nil {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("wait for a socket mode connection: %w", ctx.Err())
			case <-changed:
			}
			continue
		}
		if err := c.writeJSON(env); err != nil {
			s.mu.Lock()
			delete(s.pending, d.EnvelopeID)
			s.mu.Unlock()
			s.dropConn(c)
			c.close()
			continue
		}
		return d, nil
	}
}

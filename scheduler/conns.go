package scheduler

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"credential-grafana/db"
)

// connKey identifies a user database connection; the password is in it only as a hash,
// so that a changed credential makes a new connection.
type connKey struct {
	host     string
	port     uint16
	database string
	user     string
	pass     [32]byte
}

type idleConn struct {
	key  connKey
	conn *pgx.Conn
	seq  uint64
	at   time.Time
}

// connCache keeps connections to user databases between scans, at most max open at any
// time (idle and in use together). A miss when the cache is full closes the most
// recently used idle connection: scans visit databases in the same order every time,
// and for a cyclic order that keeps at least max-1 of them warm where least-recently-used
// eviction would keep none.
type connCache struct {
	mu       sync.Mutex
	max      int
	open     int
	seq      uint64
	idle     map[connKey]*idleConn
	connects int64
	hits     int64
	peak     int
	log      zerolog.Logger
}

func newConnCache(max int, log zerolog.Logger) *connCache {
	return &connCache{max: max, idle: map[connKey]*idleConn{}, log: log}
}

func keyOf(cfg *pgx.ConnConfig) connKey {
	return connKey{cfg.Host, cfg.Port, cfg.Database, cfg.User, sha256.Sum256([]byte(cfg.Password))}
}

// get returns a connection for cfg, from the cache or new. The caller must put it back.
func (c *connCache) get(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	key := keyOf(cfg)
	c.mu.Lock()
	if ic, ok := c.idle[key]; ok {
		delete(c.idle, key)
		c.hits++
		c.mu.Unlock()
		return ic.conn, nil
	}
	var victim *idleConn
	if c.open >= c.max {
		for _, ic := range c.idle {
			if victim == nil || ic.seq > victim.seq {
				victim = ic
			}
		}
		if victim == nil {
			c.mu.Unlock()
			return nil, fmt.Errorf("all %d scan connections are in use", c.max)
		}
		delete(c.idle, victim.key)
	} else {
		c.open++
		c.peak = max(c.peak, c.open)
	}
	c.connects++
	c.mu.Unlock()
	if victim != nil {
		_ = victim.conn.Close(ctx)
	}
	conn, err := db.Connect(ctx, cfg, c.log) // waits while the server is full
	if err != nil {
		c.mu.Lock()
		c.open--
		c.mu.Unlock()
		return nil, err
	}
	return conn, nil
}

// put returns a connection; a broken one is closed instead of kept.
func (c *connCache) put(conn *pgx.Conn, healthy bool) {
	if !healthy || conn.IsClosed() {
		_ = conn.Close(context.Background())
		c.mu.Lock()
		c.open--
		c.mu.Unlock()
		return
	}
	key := keyOf(conn.Config())
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	if old, ok := c.idle[key]; ok { // two users share a database and role: keep one
		_ = old.conn.Close(context.Background())
		c.open--
	}
	c.idle[key] = &idleConn{key: key, conn: conn, seq: c.seq, at: time.Now()}
}

// closeIdle closes idle connections unused for longer than age (all of them for 0).
func (c *connCache) closeIdle(age time.Duration) {
	c.mu.Lock()
	var closing []*pgx.Conn
	for k, ic := range c.idle {
		if age == 0 || time.Since(ic.at) > age {
			closing = append(closing, ic.conn)
			delete(c.idle, k)
			c.open--
		}
	}
	c.mu.Unlock()
	for _, conn := range closing {
		_ = conn.Close(context.Background())
	}
}

type connStats struct {
	Open, Peak       int
	Connects, Reused int64
}

func (c *connCache) stats() connStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return connStats{Open: c.open, Peak: c.peak, Connects: c.connects, Reused: c.hits}
}

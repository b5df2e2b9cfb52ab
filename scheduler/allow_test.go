package scheduler_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/commands/commandstest"
	"credential-grafana/scheduler"
)

// countingListener accepts TCP connections on 127.0.0.2 (loopback, but not the
// allowed 127.0.0.1), counts them and closes each at once.
func countingListener(t *testing.T) (host, port string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 to listen on: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = &atomic.Int64{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1) // counted before the close the client waits for
			c.Close()
		}
	}()
	host, port, _ = net.SplitHostPort(ln.Addr().String())
	return host, port, accepted
}

// Issue 9: a db_host that is already in the database (stored before the allow-list, or
// written around the commands) must not make the scanner connect.
func TestTheScannerNeverConnectsToAHostNotAllowedEvenIfStored(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	ctx := context.Background()
	bob := env.UniqueUser(t, "bob")
	u := env.CreateUser(t, bob).User
	host, port, accepted := countingListener(t)
	for k, v := range map[string]string{"db_host": host, "db_port": port} {
		if _, err := env.DB.Credentials(env.Cipher).Set(ctx, u.ID, k, v, false); err != nil {
			t.Fatal(err)
		}
	}
	s := scheduler.NewScanner(scheduler.ScannerConfig{DB: env.DB, Cipher: env.Cipher, Logger: env.Logger})
	defer s.Close()
	res, err := s.ScanOnce(ctx, scheduler.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the scanner connected %d times to %s, which is not allowed", n, host)
	}
	if len(res.Failures) != 3 || !strings.Contains(res.Failures[0].Error, "USER_DB_ALLOWED_HOSTS") {
		t.Fatalf("failures: %+v", res.Failures)
	}
}

// The config names only the host the credentials name: sslmode=prefer's plain-text
// fallback does not go to PGHOST, localhost or a local socket. And it is made for that
// host whatever the default host is: where the machine runs PostgreSQL too, the
// default is a local socket, and a config parsed for it and pointed elsewhere had no
// TLS at all (found while measuring the full sweep: the scan reached every server in
// plain text on such a machine).
func TestUserDatabaseConnectsOnlyToTheNamedHost(t *testing.T) {
	creds := map[string]string{"db_host": "db.example.com", "db_port": "6543", "db_timing_report": "a-timing_report", "db_viewer_user": "a_viewer", "db_viewer_pass": "x"}
	for _, defaultHost := range []string{"127.0.0.1", "/var/run/postgresql"} {
		t.Run("PGHOST="+defaultHost, func(t *testing.T) {
			t.Setenv("PGHOST", defaultHost)
			cfg, err := scheduler.UserDatabase(creds, cg.KindTiming, []string{"DB.example.com"})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Host != "db.example.com" || cfg.Port != 6543 || cfg.Database != "a-timing_report" || cfg.User != "a_viewer" {
				t.Fatalf("host %s:%d, database %s, user %s", cfg.Host, cfg.Port, cfg.Database, cfg.User)
			}
			if cfg.TLSConfig == nil || cfg.TLSConfig.ServerName != "db.example.com" {
				t.Fatalf("TLS %+v: want TLS tried first, for db.example.com (sslmode=prefer)", cfg.TLSConfig)
			}
			if len(cfg.Fallbacks) == 0 {
				t.Fatal("no fallback to check: sslmode=prefer makes one")
			}
			for _, fb := range cfg.Fallbacks {
				if fb.Host != "db.example.com" || strconv.Itoa(int(fb.Port)) != "6543" {
					t.Fatalf("a fallback goes to %s:%d", fb.Host, fb.Port)
				}
			}
		})
	}
	if _, err := scheduler.UserDatabase(creds, cg.KindTiming, []string{"127.0.0.1"}); cg.ErrorCode(err) != cg.EFORBIDDEN {
		t.Fatalf("a host not allowed: %v", err)
	}
	// On the loopback plain text comes first (TLS only if the server insists), and a
	// host cannot smuggle in other settings.
	local := map[string]string{"db_host": "127.0.0.1", "db_timing_report": "a-timing_report", "db_viewer_user": "a_viewer"}
	cfg, err := scheduler.UserDatabase(local, cg.KindTiming, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLSConfig != nil || len(cfg.Fallbacks) != 1 || cfg.Fallbacks[0].TLSConfig == nil || cfg.Fallbacks[0].Host != "127.0.0.1" {
		t.Fatalf("loopback: TLS %v, fallbacks %+v; want plain text first, then TLS to 127.0.0.1 (sslmode=allow)", cfg.TLSConfig, cfg.Fallbacks)
	}
	odd := map[string]string{"db_host": "a' dbname='x", "db_timing_report": "a-timing_report", "db_viewer_user": "a_viewer"}
	if cfg, err = scheduler.UserDatabase(odd, cg.KindTiming, []string{"a' dbname='x"}); err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "a' dbname='x" || cfg.Database != "a-timing_report" {
		t.Fatalf("a host with quotes became host %q, database %q", cfg.Host, cfg.Database)
	}
}

package app

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"credential-grafana/commands/commandstest"
	"credential-grafana/db/dbtest"
)

// connectionPeak samples pg_stat_activity until stop is closed and returns the most
// connections seen at once whose application_name starts with each prefix, and the
// most connections to the master database with some other name (nil or foreign).
func connectionPeak(t *testing.T, master string, prefixes []string, stop <-chan struct{}) (peaks []int, unnamed int) {
	t.Helper()
	conn := dbtest.Connect(t, "postgres")
	peaks = make([]int, len(prefixes))
	for {
		rows, err := conn.Query(context.Background(), `SELECT coalesce(application_name, ''), datname FROM pg_stat_activity
			WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`)
		if err != nil {
			t.Error(err)
			return
		}
		counts := make([]int, len(prefixes))
		other := 0
		for rows.Next() {
			var app, datname string
			_ = rows.Scan(&app, &datname)
			named := false
			for i, p := range prefixes {
				if strings.HasPrefix(app, p) {
					counts[i]++
					named = true
				}
			}
			if !named && datname == master {
				other++
			}
		}
		rows.Close()
		for i := range counts {
			peaks[i] = max(peaks[i], counts[i])
		}
		unnamed = max(unnamed, other)
		select {
		case <-stop:
			return peaks, unnamed
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestConnectionBudgetHoldsWithServeAScanAnd20CLICommands runs `serve` (master pool,
// River, a full sweep every second over more databases than the scan may hold
// connections to) while 20 CLI commands run at once, and counts every connection in
// pg_stat_activity by application_name.
func TestConnectionBudgetHoldsWithServeAScanAnd20CLICommands(t *testing.T) {
	master := dbtest.UniqueName("cgbudget_")
	t.Cleanup(func() { dbtest.DropDatabase(t, master) })
	servePrefix, cliPrefix := dbtest.UniqueName("cgserve"), dbtest.UniqueName("cgcli")
	writeEnv := func(name, extra string) string {
		f := filepath.Join(t.TempDir(), name)
		content := fmt.Sprintf("CREDENTIALS_KEY=%s\nDATABASE_URL=%s\nLOG_FORMAT=json\n%s", testKey, dbtest.URLFor(master), extra)
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	serveEnv := writeEnv("serve.env", "PG_APPLICATION_NAME="+servePrefix+"\nDASHBOARD_SCAN_INTERVAL=1000\nSCAN_FULL_EVERY=1000\n")
	cliEnvFile := writeEnv("cli.env", "PG_APPLICATION_NAME="+cliPrefix+"\n")
	cli := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append(args, "--env-file", cliEnvFile), strings.NewReader(""), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	// Eight users: 24 databases, six times what the scan may hold open (SCAN_MAX_CONNS 4).
	var users []string
	for i := range 8 {
		u := dbtest.UniqueName(fmt.Sprintf("bud%d_", i))
		commandstest.DropUserLater(t, u)
		if code, out := cli("user", "add", u); code != 0 {
			t.Fatalf("user add %s: %d %s", u, code, out)
		}
		users = append(users, u)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	t.Setenv("HOST", "127.0.0.1")
	t.Setenv("PORT", fmt.Sprint(port))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var serveErr bytes.Buffer
	go func() { done <- run(ctx, []string{"serve", "--env-file", serveEnv}, nil, &bytes.Buffer{}, &serveErr) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not shut down")
		}
	}()
	for i := 0; ; i++ {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
		if err == nil {
			resp.Body.Close()
			break
		}
		if i == 200 {
			t.Fatalf("serve did not answer: %v\n%s", err, serveErr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	stop := make(chan struct{})
	var peaks []int
	var unnamed int
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		peaks, unnamed = connectionPeak(t, master, []string{servePrefix, cliPrefix}, stop)
	}()
	var wg sync.WaitGroup
	failures := make(chan string, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var args []string
			switch i % 4 {
			case 0:
				u := dbtest.UniqueName(fmt.Sprintf("burst%d_", i))
				commandstest.DropUserLater(t, u)
				args = []string{"user", "add", u}
			case 1:
				args = []string{"user", "list"}
			case 2:
				args = []string{"status"}
			default:
				args = []string{"cred", "set", users[i%len(users)], "slack_channel_id", "C0123456789"}
			}
			if code, out := cli(args...); code != 0 {
				failures <- fmt.Sprintf("%v: %d %s", args, code, out)
			}
		}()
	}
	wg.Wait()
	time.Sleep(1500 * time.Millisecond) // one more scan with everything made
	close(stop)
	<-sampled
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	t.Logf("peak connections: serve %d, 20 CLI commands %d, unnamed to the master database %d", peaks[0], peaks[1], unnamed)
	if peaks[0] == 0 || peaks[1] == 0 {
		t.Fatalf("no connection was named after PG_APPLICATION_NAME (serve %d, CLI %d): the count says nothing", peaks[0], peaks[1])
	}
	if peaks[0] > 20 {
		t.Errorf("serve held %d connections at once: over PG_CONNECTIONS (20)", peaks[0])
	}
	if peaks[1] > 20*2 {
		t.Errorf("20 CLI commands held %d connections at once: over 2 each", peaks[1])
	}
	if unnamed > 0 {
		t.Errorf("%d connections to the master database do not carry PG_APPLICATION_NAME", unnamed)
	}
}

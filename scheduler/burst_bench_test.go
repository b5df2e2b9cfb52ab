package scheduler_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"credential-grafana/bot"
	"credential-grafana/bot/slacktest"
	"credential-grafana/capture"
	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
	"credential-grafana/grafana"
	"credential-grafana/grafana/grafanatest"
	"credential-grafana/scheduler"
)

// BenchmarkBurst: many new run tables across many users found by one scan, worked by one
// pipeline replica and by two (two Pipelines in this process on the same master database,
// each with its own Chromium, as two machines would be). The fleet is sized by environment
// variables so CI can use a small one: BURST_USERS (default 10) users, BURST_TABLES
// (default 20) tables spread over them and over the three kinds, one Slack channel per ten
// users, CAPTURE_CONCURRENCY (default 2) recordings at once per replica. The Slack fake
// refuses (429) a post to a channel less than a second after the previous one, as Slack
// limits chat.postMessage to about one a second per channel.
//
// Each run checks that every table was uploaded exactly once and that no replica recorded
// more than CAPTURE_CONCURRENCY at once, and reports tables/min (from the scan to the last
// upload), the peak resident memory of this process (the service, with the fakes) and the
// peak proportional memory (PSS) of every Chromium process, and the 429s Slack answered.
//
//	BURST_USERS=100 BURST_TABLES=200 go test -run '^$' -bench Burst -benchtime 1x -timeout 2h ./scheduler/
func BenchmarkBurst(b *testing.B) {
	users, tables, conc := envInt(b, "BURST_USERS", 10), envInt(b, "BURST_TABLES", 20), envInt(b, "CAPTURE_CONCURRENCY", 2)
	for _, replicas := range []int{1, 2} {
		b.Run(fmt.Sprintf("users=%d/tables=%d/replicas=%d", users, tables, replicas), func(b *testing.B) {
			for b.Loop() {
				runBurst(b, users, tables, replicas, conc)
			}
		})
	}
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

func runBurst(b *testing.B, users, tables, replicas, conc int) {
	b.StopTimer() // only the burst itself is timed, not making the fleet
	defer b.StartTimer()
	ctx := context.Background()
	g := grafanatest.New(b)
	slack := slacktest.New(b, slacktest.WithStrictChannelRate(time.Second))
	env := commandstest.New(b, commandstest.WithGrafana(g.URL, g.Token))
	channels := make([]string, max(1, users/10))
	for i := range channels {
		channels[i] = fmt.Sprintf("C0BURST%04d", i)
		slack.AddChannel(channels[i], fmt.Sprintf("burst-%d", i), slacktest.BotMember())
	}
	names := make([]string, users)
	for i := range names {
		names[i] = env.UniqueUser(b, fmt.Sprintf("burst%03d_", i))
		env.CreateUser(b, names[i])
		if _, err := env.Service.SetCredential(ctx, commands.CLI, names[i], "slack_channel_id", channels[i%len(channels)], commands.Upsert); err != nil {
			b.Fatal(err)
		}
	}
	browsers := make([]*capture.Browser, replicas)
	pipelines := make([]*scheduler.Pipeline, replicas)
	for i := range replicas {
		br, err := capture.New(capture.Config{Width: 960, Height: 600, Concurrency: conc, Timeout: time.Minute, Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = br.Close() })
		browsers[i] = br
		p, err := scheduler.NewPipeline(scheduler.PipelineConfig{
			DB: env.DB, Cipher: env.Cipher,
			Grafana: grafana.Config{BaseURL: g.URL, Token: cg.Secret(g.Token)},
			Browser: br, RecordWorkers: conc,
			Notifier:   bot.NewNotifier(bot.NotifierConfig{APIURL: slack.APIURL()}), // 1 post a second per channel
			SlackToken: cg.Secret(slack.BotToken()), RetryBase: time.Second, Logger: env.Logger,
		})
		if err != nil {
			b.Fatal(err)
		}
		pctx, cancel := context.WithCancel(ctx)
		if err := p.Start(pctx); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer scancel()
			_ = p.Stop(sctx)
			cancel()
		})
		pipelines[i] = p
	}
	scanner := scheduler.NewScanner(scheduler.ScannerConfig{DB: env.DB, Cipher: env.Cipher, Enqueue: pipelines[0].Enqueue, Logger: env.Logger})
	defer scanner.Close()
	for j := range tables {
		user, kind := names[j%users], cg.Kinds[j%len(cg.Kinds)]
		conn := ownerConn(b, user, kind)
		run := grafanatest.SampleRun{Design: "burst", Platform: "nangate45", RunID: fmt.Sprintf("r%03d", j), Seed: int64(j + 1)}
		if err := grafanatest.CreateRunTable(ctx, conn, kind, fmt.Sprintf("burst_nangate45_r%03d", j), run); err != nil {
			b.Fatal(err)
		}
		_ = conn.Close(ctx)
	}

	mem := sampleBurstMemory()
	b.StartTimer()
	start := time.Now()
	res, err := scanner.ScanOnce(ctx, scheduler.ScanOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if len(res.New) != tables {
		b.Fatalf("the scan found %d new tables, want %d", len(res.New), tables)
	}
	deadline := start.Add(time.Duration(tables) * time.Minute)
	for len(slack.CompletedUploads()) < tables {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d tables uploaded after %s", len(slack.CompletedUploads()), tables, time.Since(start).Round(time.Second))
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(start)
	b.StopTimer()
	serviceMiB, chromiumMiB := mem()

	time.Sleep(2 * time.Second) // a second upload of a table would come now
	uploads := slack.CompletedUploads()
	perFile := map[string]int{}
	for _, u := range uploads {
		perFile[u.Filename]++
	}
	for name, n := range perFile {
		if n != 1 {
			b.Errorf("%s uploaded %d times", name, n)
		}
	}
	if len(uploads) != tables || len(perFile) != tables {
		b.Errorf("%d uploads of %d files, want %d, each once", len(uploads), len(perFile), tables)
	}
	peak := 0
	for _, br := range browsers {
		_, p := br.Recordings()
		peak = max(peak, p)
	}
	if peak > conc {
		b.Errorf("a replica recorded %d at once, CAPTURE_CONCURRENCY is %d", peak, conc)
	}
	accepted := len(uploads)
	for _, ch := range channels {
		accepted += len(slack.Messages(ch))
	}
	ratelimited := slack.Calls("chat.postMessage") + slack.Calls("files.completeUploadExternal") - accepted
	b.ReportMetric(float64(tables)/took.Minutes(), "tables/min")
	b.ReportMetric(took.Seconds()/float64(tables), "s/table")
	b.ReportMetric(serviceMiB, "service-rss-peak-MiB")
	b.ReportMetric(chromiumMiB, "chromium-pss-peak-MiB")
	b.ReportMetric(float64(peak), "recordings-at-once-peak")
	b.ReportMetric(float64(max(0, ratelimited)), "slack-429s")
	b.Logf("%d tables of %d users in %d channels, %d replica(s), %d recordings at once each: %s, %.1f tables/min, service %.0f MiB, Chromium %.0f MiB",
		tables, users, len(channels), replicas, conc, took.Round(time.Second), float64(tables)/took.Minutes(), serviceMiB, chromiumMiB)
}

// sampleBurstMemory samples every 200 ms, until the returned function is called, this
// process's resident memory (VmRSS) and the summed proportional memory (Pss, which counts a
// page shared by n processes as 1/n to each) of every Chromium process this process started
// and their descendants (each Chromium runs in a process group of its own); it returns both
// peaks in MiB.
func sampleBurstMemory() func() (service, chromium float64) {
	done := make(chan struct{})
	var mu sync.Mutex
	var peakSelf, peakChromium float64
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			self, chromium := procKiB("self", "VmRSS:", "status")/1024, chromiumPSS()/1024
			mu.Lock()
			peakSelf, peakChromium = max(peakSelf, self), max(peakChromium, chromium)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() (float64, float64) {
		close(done)
		mu.Lock()
		defer mu.Unlock()
		return peakSelf, peakChromium
	}
}

// chromiumPSS is the summed Pss (KiB) of the process groups led by this process's
// Chromium children.
func chromiumPSS() float64 {
	self := strconv.Itoa(os.Getpid())
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	type proc struct{ ppid, pgid, comm string }
	procs := map[string]proc{}
	for _, f := range stats {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp …; comm may hold spaces, so split after its ")".
		s := string(data)
		open, closeAt := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closeAt < open {
			continue
		}
		fields := strings.Fields(s[closeAt+1:])
		if len(fields) < 3 {
			continue
		}
		procs[filepath.Base(filepath.Dir(f))] = proc{ppid: fields[1], pgid: fields[2], comm: s[open+1 : closeAt]}
	}
	groups := map[string]bool{}
	for pid, p := range procs {
		if p.ppid == self && strings.Contains(p.comm, "chrom") {
			groups[pid] = true
		}
	}
	var kib float64
	for pid, p := range procs {
		if groups[p.pgid] {
			kib += procKiB(pid, "Pss:", "smaps_rollup")
		}
	}
	return kib
}

// procKiB reads a "Key:   123 kB" line of /proc/<pid>/<file>.
func procKiB(pid, key, file string) float64 {
	data, err := os.ReadFile("/proc/" + pid + "/" + file)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb
		}
	}
	return 0
}

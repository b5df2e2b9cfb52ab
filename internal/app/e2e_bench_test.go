package app

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"credential-grafana/cg"
)

// BenchmarkRecoveryAfterKillAndSIGTERM measures what a crash and a deploy cost, with
// real `serve` processes, Chromium, PostgreSQL and the fakes: a process is killed
// (SIGKILL) or stopped (SIGTERM, SHUTDOWN_TIMEOUT at its default) while it records a
// table's GIF, and a new one is started at once, as systemd or Kubernetes would.
//
//	kill_takeover_s   restart until the new process runs the dead one's job again
//	kill_post_s       restart until the table is posted (the recording done again)
//	term_exit_s       SIGTERM until the stopping process exits (it finishes the recording)
//	term_post_s       restart until the table is posted (only the post is left)
//
// Run with: go test -run '^$' -bench RecoveryAfter -benchtime 1x .
func BenchmarkRecoveryAfterKillAndSIGTERM(b *testing.B) {
	var killTakeover, killPost, termExit, termPost time.Duration
	for i := 0; i < b.N; i++ {
		t1, t2 := benchKill(b)
		t3, t4 := benchSIGTERM(b)
		killTakeover, killPost, termExit, termPost = killTakeover+t1, killPost+t2, termExit+t3, termPost+t4
	}
	n := float64(b.N)
	b.ReportMetric(killTakeover.Seconds()/n, "kill_takeover_s")
	b.ReportMetric(killPost.Seconds()/n, "kill_post_s")
	b.ReportMetric(termExit.Seconds()/n, "term_exit_s")
	b.ReportMetric(termPost.Seconds()/n, "term_post_s")
}

// startRecording starts a service on a new fixture with one table, and returns when
// its browser records the table's GIF.
func startRecording(b *testing.B) (*pipelineFixture, *process) {
	b.StopTimer()
	defer b.StartTimer()
	f := newPipelineFixture(b, "CAPTURE_FRAMES=4", "CAPTURE_FRAME_DELAY=200")
	p := startService(b, f.serviceEnv)
	f.createRunTable(b, cg.KindQOR, "jpeg_asap7_bench")
	waitUntil(b, 90*time.Second, func() bool { return f.recording(b, p) },
		func() string { return "the recording did not start\n" + p.log.String() })
	return f, p
}

func (f *pipelineFixture) waitPosted(b *testing.B, p *process) {
	waitUntil(b, 120*time.Second, func() bool { return states(b, f.env, f.u.ID)[cg.DashboardPosted] == 1 },
		func() string { return "not posted\n" + p.log.String() })
}

func benchKill(b *testing.B) (takeover, posted time.Duration) {
	f, first := startRecording(b)
	if err := first.cmd.Process.Kill(); err != nil {
		b.Fatal(err)
	}
	_ = first.cmd.Wait()
	restarted := time.Now()
	second := startService(b, f.serviceEnv)
	waitUntil(b, 60*time.Second, func() bool { return strings.Contains(second.log.String(), "took over a job") },
		func() string { return "the job was not taken over\n" + second.log.String() })
	takeover = time.Since(restarted)
	f.waitPosted(b, second)
	posted = time.Since(restarted)
	second.stop(b)
	return takeover, posted
}

func benchSIGTERM(b *testing.B) (exited, posted time.Duration) {
	f, first := startRecording(b)
	termAt := time.Now()
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	if err := first.wait(90 * time.Second); err != nil {
		b.Fatalf("%v\n%s", err, first.log.String())
	}
	exited = time.Since(termAt)
	restarted := time.Now()
	second := startService(b, f.serviceEnv)
	f.waitPosted(b, second)
	posted = time.Since(restarted)
	second.stop(b)
	return exited, posted
}

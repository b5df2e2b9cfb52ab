package scheduler

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"credential-grafana/db"
)

// liveness is the pipeline's answer to a process that dies with jobs running: River
// alone runs such a job again only after RescueStuckJobsAfter (JOB_TIMEOUT + 1 minute
// here), because River's client writes no heartbeat (riverqueue/river#773, #682: its
// rescuer looks only at how long a job has run). So each process beats in
// pipeline_processes every beatEvery, and at each beat takes over the running jobs of
// any process that stopped, that it finds dead on its own machine (its pid gone), or
// that has been silent for deadAfter.
type liveness struct {
	db        *db.DB
	self      db.Process
	beatEvery time.Duration
	deadAfter time.Duration
	log       zerolog.Logger
	// waiting holds the jobs already logged as waiting to be taken over.
	waiting map[int64]bool
}

// thisProcess describes the running process, with the River client ID it works under.
func thisProcess(now time.Time) db.Process {
	host, _ := os.Hostname()
	if host == "" {
		host = "unknown_host"
	}
	host = strings.ReplaceAll(host, ".", "_")
	if len(host) > 60 {
		host = host[:60]
	}
	pid := os.Getpid()
	p := db.Process{Host: host, PID: pid, Instance: processInstance()}
	p.PIDStart, _ = processStart(pid)
	// River's own default is host and time; the pid tells two processes started in the
	// same microsecond apart. At most 60+1+10+1+26 characters: River allows 100.
	p.ClientID = fmt.Sprintf("%s_%d_%s", host, pid, strings.Replace(now.UTC().Format("2006_01_02T15_04_05.000000"), ".", "_", 1))
	return p
}

// processInstance names where pids mean the same process: the boot and the PID
// namespace. Empty where /proc does not say (not Linux): pids are then never compared.
func processInstance() string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(boot)) + "/" + ns
}

// processStart is the start time of process pid in clock ticks after boot (proc(5),
// /proc/pid/stat field 22); found is false when there is no such process.
func processStart(pid int) (start int64, found bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// pid (comm) state ppid …: comm may hold spaces, so count after the last ')'.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(fields) < 20 {
		return 0, true
	}
	start, _ = strconv.ParseInt(fields[19], 10, 64)
	return start, true
}

// gone reports whether p, a process on this machine and PID namespace, has exited: its
// pid is free or now names a process started at another time.
func gone(p db.Process) bool {
	start, found := processStart(p.PID)
	return !found || (p.PIDStart != 0 && start != p.PIDStart)
}

// begin records the first beat and takes over at once the jobs of this machine's
// processes that are gone, such as this process's own previous run.
func (l *liveness) begin(ctx context.Context) error {
	if err := l.db.Processes().Beat(ctx, l.self, l.beatEvery, l.deadAfter); err != nil {
		return err
	}
	l.takeOver(ctx)
	return nil
}

// run beats and takes over until ctx ends.
func (l *liveness) run(ctx context.Context) {
	ticker := time.NewTicker(l.beatEvery)
	defer ticker.Stop()
	for pass := 0; ; pass++ {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		bctx, cancel := context.WithTimeout(ctx, l.deadAfter/2)
		if err := l.db.Processes().Beat(bctx, l.self, l.beatEvery, l.deadAfter); err != nil && ctx.Err() == nil {
			l.log.Error().Err(err).Msg("pipeline heartbeat failed: if it stays silent, other processes take over this one's jobs")
		}
		l.takeOver(bctx)
		if pass%1000 == 0 {
			if err := l.db.Processes().Forget(bctx); err != nil && ctx.Err() == nil {
				l.log.Warn().Err(err).Msg("forget stopped pipeline processes")
			}
		}
		cancel()
	}
}

// takeOver marks this machine's gone processes stopped, makes the jobs of stopped and
// silent processes available again, and logs the jobs still waiting. Errors are
// logged: the next beat tries again.
func (l *liveness) takeOver(ctx context.Context) {
	if l.self.Instance != "" {
		neighbours, err := l.db.Processes().OnInstance(ctx, l.self.Host, l.self.Instance, l.self.ClientID)
		if err != nil && ctx.Err() == nil {
			l.log.Warn().Err(err).Msg("list the pipeline processes on this machine")
		}
		for _, p := range neighbours {
			if !gone(p) {
				continue
			}
			if err := l.db.Processes().Stopped(ctx, p.ClientID); err != nil {
				l.log.Warn().Err(err).Msg("record a dead pipeline process")
				continue
			}
			l.log.Warn().Str("process", p.ClientID).Int("pid", p.PID).Time("last_heartbeat_at", p.HeartbeatAt).
				Msg("a pipeline process on this machine died without stopping; taking over its jobs")
		}
	}
	taken, err := l.db.TakeOverJobs(ctx, l.self.ClientID)
	if err != nil && ctx.Err() == nil {
		l.log.Error().Err(err).Msg("take over the jobs of stopped pipeline processes")
	}
	for _, j := range taken {
		delete(l.waiting, j.ID)
		l.log.Warn().Int64("job_id", j.ID).Str("job_kind", j.Kind).Int64("dashboard_id", j.DashboardID).
			Str("process", j.ClientID).Time("waiting_since", j.Since).Dur("waited", time.Since(j.Since)).
			Msg("took over a job whose process stopped; it runs again now")
	}
	stranded, err := l.db.StrandedJobs(ctx)
	if err != nil && ctx.Err() == nil {
		l.log.Warn().Err(err).Msg("list the jobs waiting to be taken over")
	}
	seen := map[int64]bool{}
	for _, j := range stranded {
		seen[j.ID] = true
		if l.waiting[j.ID] {
			continue
		}
		l.waiting[j.ID] = true
		l.log.Warn().Int64("job_id", j.ID).Str("job_kind", j.Kind).Int64("dashboard_id", j.DashboardID).
			Str("process", j.ClientID).Time("waiting_since", j.Since).Msg("a job's process stopped beating; the job waits to be taken over")
	}
	for id := range l.waiting {
		if !seen[id] {
			delete(l.waiting, id)
		}
	}
}

// end records that this process stopped, so that any job it leaves running is taken
// over at once by the others.
func (l *liveness) end(ctx context.Context) error {
	return l.db.Processes().Stopped(ctx, l.self.ClientID)
}

package app

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"credential-grafana/capture"
	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/grafana"
)

// runPipelineCommand runs scan, dashboards, recapture, status, doctor and capture; it reports
// whether argv named one of them.
func runPipelineCommand(ctx context.Context, m *Main, args cliArgs, out printer) (bool, error) {
	actor := commands.CLI
	switch args.pos[0] {
	case "scan":
		if !args.flag("once") {
			return true, cg.Errorf(cg.EINVALID, "usage: credential-grafana scan --once [--user <name>] (the service scans on its own schedule)")
		}
		res, err := m.Commands.Scan(ctx, actor, args.flags["user"])
		if err != nil {
			return true, err
		}
		if out.json {
			return true, out.encode(res)
		}
		fmt.Fprintf(out.w, "scanned %d users (%d databases, %d tables) in %s: %d new, %d incompatible, %d unreachable\n",
			res.Users, res.Databases, res.Tables, res.Duration.Round(time.Millisecond), len(res.New), len(res.Incompatible), len(res.Failures))
		for _, d := range res.New {
			fmt.Fprintf(out.w, "  new           %-6s %s (dashboard %s queued)\n", d.Kind, d.TableName, d.UID)
		}
		for _, d := range res.Incompatible {
			fmt.Fprintf(out.w, "  incompatible  %-6s %s\n", d.Kind, d.Reason)
		}
		for _, f := range res.Failures {
			fmt.Fprintf(out.w, "  unreachable   %s %s: %s\n", f.User, f.Kind, f.Error)
		}
		return true, nil
	case "dashboards":
		if len(args.pos) < 2 || len(args.pos) > 3 {
			return true, cg.Errorf(cg.EINVALID, "usage: credential-grafana dashboards <user> [TIMING|QOR|DRC]")
		}
		kind := ""
		if len(args.pos) == 3 {
			kind = args.pos[2]
		}
		list, err := m.Commands.ListDashboards(ctx, actor, args.pos[1], kind, 50)
		if err != nil {
			return true, err
		}
		if out.json {
			if list == nil {
				list = []cg.Dashboard{}
			}
			return true, out.encode(list)
		}
		if len(list) == 0 {
			what := "run tables"
			if kind != "" {
				what = strings.ToUpper(kind) + " run tables"
			}
			fmt.Fprintf(out.w, "no %s for %s yet: they show up after a scan finds them (`scan --once --user %s`)\n", what, args.pos[1], args.pos[1])
			return true, nil
		}
		for _, d := range list {
			detail := d.URL
			if d.Reason != "" {
				detail = d.Reason
			} else if d.LastError != "" {
				detail = d.LastError
			}
			fmt.Fprintf(out.w, "%-6d %-6s %-12s %-40s %s\n", d.ID, d.Kind, d.State, d.TableName, detail)
		}
		return true, nil
	case "recapture":
		if len(args.pos) != 2 {
			return true, cg.Errorf(cg.EINVALID, "usage: credential-grafana recapture <dashboard uid or id>")
		}
		d, err := m.Commands.Recapture(ctx, actor, args.pos[1])
		if err != nil {
			return true, err
		}
		return true, out.message(d, "recording %s again; it will be posted when done (the running service does the work)", d.UID)
	case "status":
		st, err := m.Commands.Status(ctx, actor)
		if err != nil {
			return true, err
		}
		if out.json {
			return true, out.encode(st)
		}
		for _, c := range st.Components {
			state := "ok"
			switch {
			case c.Off != "":
				state = "off: " + c.Off
			case !c.OK:
				state = "FAILING: " + c.Error
			}
			if c.Note != "" {
				state += "; " + c.Note
			}
			fmt.Fprintf(out.w, "%-10s %s\n", c.Name, state)
		}
		if st.LastScan != nil {
			fmt.Fprintf(out.w, "last scan  %s: %d new, %d unreachable\n", st.LastScan.StartedAt.Format(time.RFC3339), len(st.LastScan.New), len(st.LastScan.Failures))
		}
		fmt.Fprintf(out.w, "queue      %d jobs\n", st.Queue)
		for _, j := range st.Waiting {
			fmt.Fprintf(out.w, "waiting    job %d %s (dashboard %d) to be taken over since %s: %s\n", j.JobID, j.Kind, j.DashboardID,
				j.Since.Format(time.RFC3339), waitingReason(j))
		}
		if st.GIFDisk != nil {
			fmt.Fprintf(out.w, "gifs       %s: %d files, %s\n", st.GIFDisk.Dir, st.GIFDisk.Files, humanBytes(st.GIFDisk.Bytes))
		}
		if k := st.Secrets; k != nil {
			printSecretCounts(out.w, *k)
		}
		if st.Connections != "" {
			fmt.Fprintf(out.w, "conns      %s\n", st.Connections)
		}
		for _, d := range st.Failures {
			fmt.Fprintf(out.w, "failed     %s %s: %s\n", d.UID, d.Step, d.LastError)
		}
		if st.Hint != "" {
			fmt.Fprintln(out.w, st.Hint)
		}
		return true, nil
	case "doctor":
		findings, err := m.Commands.Doctor(ctx, actor)
		if err != nil {
			return true, err
		}
		if out.json {
			if err := out.encode(findings); err != nil {
				return true, err
			}
		} else {
			printFindings(out, findings)
		}
		if cg.Failed(findings) {
			return true, fmt.Errorf("doctor: %d of %d checks failed; fix what they say and run doctor again", countFailed(findings), len(findings))
		}
		return true, nil
	case "capture":
		return true, captureCommand(ctx, m, args, out)
	}
	return false, nil
}

// captureCommand records a dashboard by hand: credential-grafana capture <url> -o out.gif
// [--frames N --delay ms --var name[=v1,v2,…]]. With --var name alone the values are
// asked from Grafana, as the dashboard's drop-down lists them.
func captureCommand(ctx context.Context, m *Main, args cliArgs, out printer) error {
	const usage = "usage: credential-grafana capture <dashboard url> -o out.gif [--frames N] [--delay ms] [--var name[=v1,v2,…]]"
	if len(args.pos) != 2 || args.flags["o"] == "" {
		return cg.Errorf(cg.EINVALID, usage)
	}
	if m.Browser == nil {
		return capture.ErrChromiumMissing
	}
	dash, err := url.Parse(args.pos[1])
	if err != nil || dash.Host == "" {
		return cg.Errorf(cg.EINVALID, "%q is not a dashboard URL: %s", args.pos[1], usage)
	}
	rec := capture.Recording{URL: args.pos[1], Frames: m.Config.CaptureFrames, FrameDelay: m.Config.CaptureFrameDelay}
	if v := args.flags["frames"]; v != "" {
		if rec.Frames, err = strconv.Atoi(v); err != nil {
			return cg.Errorf(cg.EINVALID, "--frames %q: expected a whole number", v)
		}
	}
	if v := args.flags["delay"]; v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil {
			return cg.Errorf(cg.EINVALID, "--delay %q: expected milliseconds", v)
		}
		rec.FrameDelay = time.Duration(ms) * time.Millisecond
	}
	var client *grafana.Client
	if m.Grafana.Enabled() {
		if g, token, err := m.Grafana.For(nil); err == nil && sameOrigin(g.BaseURL(), dash) {
			client, rec.Token = g, token
		}
	}
	// With the dashboard's Grafana, the page is checked against the dashboard as Grafana
	// stores it (UID, title, every panel); without (or when Grafana does not give it to this
	// token), only against what any dashboard shows.
	var stored *grafana.DashboardWithMeta
	var storedErr error
	if client != nil {
		if uid := dashboardUID(dash); uid == "" {
			storedErr = cg.Errorf(cg.EINVALID, "%s is not a /d/<uid>/… dashboard URL", dash)
		} else if d, err := client.GetDashboard(ctx, uid); err != nil {
			storedErr = err
		} else {
			stored = &d
			rec.Expect = capture.ExpectDashboard(d.Dashboard)
		}
	}
	if v := args.flags["var"]; v != "" {
		name, values, hasValues := strings.Cut(v, "=")
		rec.StepVariable = name
		if hasValues {
			rec.StepValues = strings.Split(values, ",")
		} else {
			if client == nil {
				return cg.Errorf(cg.EINVALID, "--var %s without values needs GRAFANA_BASE_URL to be the dashboard's Grafana; or give them: --var %s=a,b,c", name, name)
			}
			if stored == nil {
				return storedErr
			}
			if rec.StepValues, err = dashboardVariable(ctx, client, *stored, name); err != nil {
				return err
			}
		}
	}
	res, err := m.Browser.RecordGIF(ctx, rec)
	if err != nil {
		return err
	}
	target := args.flags["o"]
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	if err := os.Rename(res.Path, target); err != nil {
		b, rerr := os.ReadFile(res.Path)
		if rerr != nil {
			return err
		}
		if err := os.WriteFile(target, b, 0o644); err != nil {
			return err
		}
		_ = os.Remove(res.Path)
	}
	return out.message(map[string]any{"path": target, "bytes": res.Bytes, "frames": res.Frames},
		"wrote %s: %d frames, %dx%d, %d bytes in %s", target, res.Frames, res.Width, res.Height, res.Bytes, res.Timings.Total.Round(time.Millisecond))
}

func sameOrigin(base string, u *url.URL) bool {
	b, err := url.Parse(base)
	return err == nil && b.Scheme == u.Scheme && b.Host == u.Host
}

// dashboardUID is the <uid> of a /d/<uid>/… URL, "" for another URL.
func dashboardUID(dash *url.URL) string {
	parts := strings.Split(strings.Trim(dash.Path, "/"), "/")
	if len(parts) < 2 || parts[0] != "d" {
		return ""
	}
	return parts[1]
}

// dashboardVariable asks Grafana for the values of a dashboard's variable.
func dashboardVariable(ctx context.Context, g *grafana.Client, d grafana.DashboardWithMeta, name string) ([]string, error) {
	values, err := g.VariableValues(ctx, grafana.Dashboard(d.Dashboard), name)
	if err != nil {
		return nil, err
	}
	if len(values) == 0 {
		return nil, cg.Errorf(cg.EINVALID, "variable $%s of the dashboard has no values", name)
	}
	return values, nil
}

// printFindings prints doctor's findings: one line each, OK or FAIL or SKIP with what
// was seen, and under a failure the fix.
func printFindings(out printer, findings []cg.Finding) {
	for _, f := range findings {
		state := "OK  "
		switch {
		case f.Skipped:
			state = "SKIP"
		case !f.OK:
			state = "FAIL"
		}
		fmt.Fprintf(out.w, "%s %-8s %-22s %s\n", state, f.Area, f.Check, f.Detail)
		if !f.OK && !f.Skipped && f.Fix != "" {
			fmt.Fprintf(out.w, "     %-8s %-22s fix: %s\n", "", "", f.Fix)
		}
	}
}

func countFailed(findings []cg.Finding) int {
	n := 0
	for _, f := range findings {
		if !f.OK && !f.Skipped {
			n++
		}
	}
	return n
}

// waitingReason says why a job waits to be taken over.
func waitingReason(j commands.WaitingJob) string {
	if j.Stopped {
		return "its process " + j.Process + " stopped; the next heartbeat of another process takes it over"
	}
	return "its process " + j.Process + " stopped beating; taken over once it has been silent 10 s"
}

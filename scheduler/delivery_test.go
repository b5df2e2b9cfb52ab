package scheduler_test

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"credential-grafana/bot"
	"credential-grafana/bot/slacktest"
	"credential-grafana/cg"
	"credential-grafana/grafana/grafanatest"
	"credential-grafana/scheduler"
)

// Real Slack shares an uploaded file 1–3 s after files.completeUploadExternal answers ok
// (bolt-js#2115, python-slack-sdk#1277, java-slack-sdk#1307); these tests use the slow end.
const slowShare = 3 * time.Second

// fileMessages are the channel's visible messages that share a file.
func fileMessages(w *world, ch string) []slacktest.Message {
	var out []slacktest.Message
	for _, m := range w.slack.Messages(ch) {
		if len(m.Files) > 0 {
			out = append(out, m)
		}
	}
	return out
}

// waitShares waits until n file shares are visible in the channel.
func waitShares(t *testing.T, w *world, ch string, n int) []slacktest.Message {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		msgs := fileMessages(w, ch)
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d file shares visible in %s after a minute: %+v", len(msgs), n, ch, w.slack.Messages(ch))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// postJob is the state and attempt count of a record's post job once River has
// finished with its run (the job is no longer running).
func postJob(t *testing.T, w *world, id int64) (string, int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var state string
		var attempt int
		if err := w.env.DB.Pool.QueryRow(context.Background(), `SELECT state, attempt FROM river_job
			WHERE kind = 'post_slack' AND (args->>'dashboard_id')::bigint = $1 ORDER BY id DESC LIMIT 1`, id).Scan(&state, &attempt); err != nil {
			t.Fatal(err)
		}
		if state != "running" || time.Now().After(deadline) {
			return state, attempt
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestThreeRunsFinishingTogetherArriveAsOneMessageEachWithTheirOwnGIF(t *testing.T) {
	t.Parallel()
	w := newWorldWithSlack(t, []slacktest.Option{slacktest.WithFileProcessingDelay(slowShare)})
	run := grafanatest.SampleRun{Design: "gcd", Platform: "nangate45", RunID: "r7"}
	for _, k := range []cg.Kind{cg.KindTiming, cg.KindQOR, cg.KindDRC} {
		w.createTable(t, k, "gcd_nangate45_r7", run)
	}
	w.scan(t)
	list := w.waitPosted(t, 3, 3*time.Minute)
	waitShares(t, w, channel, 3)
	msgs := w.slack.Messages(channel)
	if len(msgs) != 3 {
		for _, m := range msgs {
			t.Logf("message %s: files %v, %d bytes of blocks, text %.60q", m.TS, m.Files, len(m.Blocks), m.Text)
		}
		t.Fatalf("%d messages in the channel, want 3 (one per run, GIF and card together)", len(msgs))
	}
	uploads := w.slack.CompletedUploads()
	for _, d := range list {
		i := slices.IndexFunc(msgs, func(m slacktest.Message) bool { return slices.Equal(m.Files, []string{d.SlackFileID}) })
		if i < 0 {
			t.Fatalf("no message carries only the %s run's file %s: %+v", d.Kind, d.SlackFileID, msgs)
		}
		blocks := string(msgs[i].Blocks)
		for _, want := range []string{d.URL, bot.ActionRecapture, bot.ActionMuteDesign, `"value":"` + d.UID + `"`} {
			if !strings.Contains(blocks, want) {
				t.Errorf("the %s run's message lacks %q in its blocks: %s", d.Kind, want, blocks)
			}
		}
		gif, err := os.ReadFile(d.LocalSnapshotURL)
		if err != nil {
			t.Fatal(err)
		}
		u := slices.IndexFunc(uploads, func(u slacktest.Upload) bool { return u.FileID == d.SlackFileID })
		if u < 0 || !bytes.Equal(uploads[u].Bytes, gif) {
			t.Fatalf("the %s run's message does not carry its own GIF", d.Kind)
		}
	}
}

func TestAPostThatFailsAfterItsCompletionWaitsForTheShareAndDoesNotUploadAgain(t *testing.T) {
	t.Parallel()
	w := newWorldWithSlack(t, []slacktest.Option{slacktest.WithFileProcessingDelay(slowShare)})
	// Whatever follows the completion fails once: the job stops with the file
	// completed and its share still being processed, as after a crash there.
	w.slack.FailNext("chat.postMessage", 3, "internal_error")
	w.slack.FailNext("files.info", 1, "internal_error")
	w.createTable(t, cg.KindTiming, "aes_nangate45_r3", grafanatest.SampleRun{Design: "aes"})
	w.scan(t)
	d := w.waitPosted(t, 1, 3*time.Minute)[0]
	waitShares(t, w, channel, 1)
	if n := w.slack.Calls("files.getUploadURLExternal"); n != 1 {
		t.Fatalf("%d uploads started, want 1", n)
	}
	if n := len(w.slack.CompletedUploads()); n != 1 {
		t.Fatalf("%d uploads completed, want 1", n)
	}
	if n := len(fileMessages(w, channel)); n != 1 {
		t.Fatalf("%d file messages, want 1", n)
	}
	if m := fileMessages(w, channel)[0]; !strings.Contains(string(m.Blocks), d.URL) {
		t.Fatalf("the post lacks its card: %+v", m)
	}
}

func TestARateLimitedCompletionIsRetriedWithTheSameFile(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.slack.RateLimit("files.completeUploadExternal", 1, time.Second)
	w.createTable(t, cg.KindDRC, "ibex_asap7_r4", grafanatest.SampleRun{Design: "ibex", Platform: "asap7"})
	w.scan(t)
	d := w.waitPosted(t, 1, 3*time.Minute)[0]
	if n := len(w.slack.Uploads()); n != 1 {
		t.Fatalf("%d uploads started for one post, want 1", n)
	}
	if c := w.slack.CompletedUploads(); len(c) != 1 || c[0].FileID != d.SlackFileID {
		t.Fatalf("completed uploads %+v, want the one file %s", c, d.SlackFileID)
	}
	if n := w.slack.Calls("files.completeUploadExternal"); n != 2 {
		t.Fatalf("%d completions, want 2 (the refused one and its retry)", n)
	}
}

func TestSlackRefusingTheCardFallsBackToPlainTextInTheSameMessage(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.slack.FailNext("files.completeUploadExternal", 1, "msg_blocks_too_long")
	w.createTable(t, cg.KindQOR, "jpeg_sky130hd_r1", grafanatest.SampleRun{Design: "jpeg", Platform: "sky130hd"})
	w.scan(t)
	d := w.waitPosted(t, 1, 3*time.Minute)[0]
	msgs := waitShares(t, w, channel, 1)
	if n := len(w.slack.Uploads()); n != 1 || len(msgs) != 1 {
		t.Fatalf("%d uploads, %d file messages; want one of each", n, len(msgs))
	}
	if m := msgs[0]; len(m.Blocks) != 0 || !strings.Contains(m.Text, d.URL) || !slices.Equal(m.Files, []string{d.SlackFileID}) {
		t.Fatalf("message %+v: want the GIF with the card's plain text and link", m)
	}
}

func TestPermanentSlackErrorsStopThePostAtOnceAndAreToldOnce(t *testing.T) {
	t.Parallel()
	const admins = "C0ADMINS001" // the service's own channel, SLACK_CHANNEL_ID
	w := newWorld(t, func(c *scheduler.PipelineConfig) { c.SlackChannel = admins })
	w.slack.AddChannel(admins, "eda-admins", slacktest.BotMember())
	hints := map[string]string{
		"posting_to_channel_denied": "may post in channel " + channel,
		"restricted_action":         "workspace settings",
		"is_archived":               "archived",
		"file_uploads_disabled":     "file uploads",
		"ekm_access_denied":         "Enterprise Key Management",
	}
	started := 0
	for code, hint := range hints {
		table := "gcd_asap7_" + code
		w.createTable(t, cg.KindTiming, table, grafanatest.SampleRun{Platform: "asap7"})
		w.slack.FailNext("files.completeUploadExternal", 1, code)
		res := w.scan(t)
		if len(res.New) != 1 {
			t.Fatalf("%s: scan found %d tables", code, len(res.New))
		}
		d := w.waitFor(t, res.New[0].ID, func(d cg.Dashboard) bool {
			return d.State == cg.DashboardFailed || d.State == cg.DashboardPosted
		})
		if d.State != cg.DashboardFailed || d.Step != scheduler.StepPost || !strings.Contains(d.LastError, hint) {
			t.Fatalf("%s: record %s step %s error %q; want failed at post, saying %q", code, d.State, d.Step, d.LastError, hint)
		}
		if state, attempt := postJob(t, w, d.ID); state != "cancelled" || attempt != 1 {
			t.Fatalf("%s: post job %s after %d attempts, want cancelled after 1", code, state, attempt)
		}
		if started++; w.slack.Calls("files.getUploadURLExternal") != started {
			t.Fatalf("%s: %d uploads started for %d posts", code, w.slack.Calls("files.getUploadURLExternal"), started)
		}
		told := 0
		for _, m := range w.slack.Messages(admins) {
			if strings.Contains(m.Text, table) {
				told++
			}
		}
		if told != 1 {
			t.Fatalf("%s: told %d times in %s, want once: %+v", code, told, admins, w.slack.Messages(admins))
		}
	}
}

func TestWithoutAnAdminChannelOnlyAChannelThatTakesMessagesIsTold(t *testing.T) {
	t.Parallel()
	w := newWorld(t) // no SLACK_CHANNEL_ID: the user's channel is all there is
	for _, c := range []struct {
		method, code string
		told         int
	}{
		{"files.getUploadURLExternal", "file_uploads_disabled", 1}, // the channel still takes messages
		{"files.completeUploadExternal", "posting_to_channel_denied", 0},
	} {
		table := "aes_asap7_" + c.code
		w.createTable(t, cg.KindDRC, table, grafanatest.SampleRun{Design: "aes", Platform: "asap7"})
		w.slack.FailNext(c.method, 1, c.code)
		res := w.scan(t)
		d := w.waitFor(t, res.New[0].ID, func(d cg.Dashboard) bool {
			return d.State == cg.DashboardFailed || d.State == cg.DashboardPosted
		})
		if d.State != cg.DashboardFailed {
			t.Fatalf("%s: record %s, want failed", c.code, d.State)
		}
		if state, _ := postJob(t, w, d.ID); state != "cancelled" {
			t.Fatalf("%s: post job %s, want cancelled", c.code, state)
		}
		told := 0
		for _, m := range w.slack.Messages(channel) {
			if strings.Contains(m.Text, table) {
				told++
			}
		}
		if told != c.told {
			t.Fatalf("%s: told %d times in the user's channel, want %d", c.code, told, c.told)
		}
	}
}

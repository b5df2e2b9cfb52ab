package bot_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"credential-grafana/bot/slacktest"
)

// insertUsers adds n user rows named prefix-000… linked to slackUserID (no databases:
// listing needs none) and returns their names in id order.
func (h *harness) insertUsers(prefix string, n int, slackUserID string) []string {
	h.t.Helper()
	var names []string
	for i := range n {
		u, err := h.env.DB.Users().Insert(h.ctx, fmt.Sprintf("%s-%03d", prefix, i), slackUserID)
		if err != nil {
			h.t.Fatal(err)
		}
		names = append(names, u.Name)
	}
	return names
}

// showMore is the "Show more" button of a reply's blocks: its action_id and value.
func showMore(t *testing.T, blocks json.RawMessage) (actionID, value string, ok bool) {
	t.Helper()
	var list []map[string]any
	_ = json.Unmarshal(blocks, &list)
	for _, b := range list {
		els, _ := b["elements"].([]any)
		if acc, ok := b["accessory"]; ok {
			els = append(els, acc)
		}
		for _, e := range els {
			el, _ := e.(map[string]any)
			text, _ := el["text"].(map[string]any)
			if el["type"] == "button" && strings.Contains(fmt.Sprint(text["text"]), "Show more") {
				return fmt.Sprint(el["action_id"]), fmt.Sprint(el["value"]), true
			}
		}
	}
	return "", "", false
}

var listedName = regexp.MustCompile(`\*([a-z]+-\d{3})\*`)

// pageThrough runs "/cg text" as user and presses "Show more" until there is none; it
// returns the names listed on each page and each page's text.
func (h *harness) pageThrough(user, text string) (names [][]string, texts []string) {
	h.t.Helper()
	p := h.answer(user, text)
	for range 10 {
		var page []string
		for _, m := range listedName.FindAllStringSubmatch(blockTexts(p.Blocks), -1) {
			page = append(page, m[1])
		}
		names, texts = append(names, page), append(texts, all(p))
		action, value, ok := showMore(h.t, p.Blocks)
		if !ok {
			return names, texts
		}
		p = h.press(user, action, value)
	}
	h.t.Fatalf("/cg %s: more than 10 pages", text)
	return nil, nil
}

// The finding: `/cg user list` put every user into one reply, cut at Slack's 50 blocks
// with no way to see the rest.
func TestUserListInSlackSaysHowManyMoreAndShowMoreListsThemAll(t *testing.T) {
	t.Parallel()
	h := startBot(t)
	bobs := h.insertUsers("bob", 30, bobID)
	others := h.insertUsers("other", 40, "")

	pages, texts := h.pageThrough(adminID, "user list")
	if len(pages) != 3 || len(pages[0]) != 25 || len(pages[1]) != 25 || len(pages[2]) != 20 {
		t.Fatalf("admin's pages hold %v users; want 25, 25, 20", lens(pages))
	}
	mustContain(t, "admin's first page", texts[0], "Users 1–25 of 70", "… and 45 more", "user list")
	mustContain(t, "admin's second page", texts[1], "Users 26–50 of 70", "… and 20 more")
	mustContain(t, "admin's last page", texts[2], "Users 51–70 of 70")
	if strings.Contains(texts[2], "more") && strings.Contains(texts[2], "… and") {
		t.Errorf("the last page says there are more: %s", texts[2])
	}
	if got, want := slices.Concat(pages...), append(append([]string{}, bobs...), others...); !slices.Equal(got, want) {
		t.Fatalf("admin's pages list %v\nwant every user once in id order %v", got, want)
	}

	// A member pages through only the users linked to them.
	pages, texts = h.pageThrough(bobID, "user list")
	if got := slices.Concat(pages...); len(pages) != 2 || !slices.Equal(got, bobs) {
		t.Fatalf("bob's pages %v; want his 30 users on 2 pages", pages)
	}
	mustContain(t, "bob's first page", texts[0], "of 30", "… and 5 more")

	// A forged button value is refused and lists nobody.
	p := h.press(bobID, "cg_user_list_more", "not-a-cursor")
	mustContain(t, "a forged cursor", all(p), "cursor")
	if listedName.MatchString(blockTexts(p.Blocks)) {
		t.Errorf("a forged cursor listed users: %s", all(p))
	}
}

func lens(pages [][]string) []int {
	var n []int
	for _, p := range pages {
		n = append(n, len(p))
	}
	return n
}

// The finding: `/cg dashboards <user>` showed the newest 20 and said nothing of the rest.
func TestDashboardsInSlackSayHowManyMoreAndShowMoreListsThemAll(t *testing.T) {
	t.Parallel()
	h := startBot(t)
	bobs := h.createUser("dpg", bobID)
	var want []string
	for i := range 27 {
		uid := fmt.Sprintf("cg-%s-timing-%04d", bobs, i)
		_, err := h.env.DB.Pool.Exec(h.ctx, `INSERT INTO dashboards (user_id, kind, table_name, dashboard_uid, state)
			SELECT id, 'TIMING', $2, $3, 'pending' FROM users WHERE username = $1`, bobs, fmt.Sprintf("run_%03d", i), uid)
		if err != nil {
			t.Fatal(err)
		}
		want = append([]string{uid}, want...) // newest first
	}
	p := h.answer(bobID, "dashboards "+bobs)
	mustContain(t, "first page", all(p), "… and 7 more")
	var got []string
	uidRE := regexp.MustCompile("`(cg-" + bobs + `-timing-\d{4})` + "`")
	for range 5 {
		for _, m := range uidRE.FindAllStringSubmatch(blockTexts(p.Blocks), -1) {
			got = append(got, m[1])
		}
		action, value, ok := showMore(t, p.Blocks)
		if !ok {
			break
		}
		// Alice may not page through bob's runs with his button.
		if q := h.press(aliceID, action, value); uidRE.MatchString(all(q)) {
			t.Fatalf("alice pressed bob's Show more and saw his runs: %s", all(q))
		}
		p = h.press(bobID, action, value)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged runs %v\nwant each once, newest first: %v", got, want)
	}
}

// The App Home shows the first 20 users and says how many more there are and where.
func TestAppHomeCutsTheUsersWithHowManyMore(t *testing.T) {
	t.Parallel()
	h := startBot(t)
	names := h.insertUsers("home", 26, bobID)
	d, err := h.srv.SendEvent(h.ctx, slacktest.Event{EventID: "Ev0HOMEPG01", Event: map[string]any{"type": "app_home_opened", "user": bobID, "tab": "home", "channel": "D0BOBBY001"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WaitAck(h.ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, h.ctx, "app home published", func() bool { _, ok := h.srv.HomeView(bobID); return ok })
	home, _ := h.srv.HomeView(bobID)
	mustContain(t, "home", string(home), "*"+names[0]+"*", "*"+names[19]+"*", "and 6 more", "/cg user list")
	if strings.Contains(string(home), "*"+names[20]+"*") {
		t.Errorf("home shows a 21st user")
	}
}

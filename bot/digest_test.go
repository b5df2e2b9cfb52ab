package bot_test

import (
	"strings"
	"testing"
)

func TestDigestFromSlackIsSetForOwnUsersOnlyAndRefusesBadInputClearly(t *testing.T) {
	t.Parallel()
	h := startBot(t)
	alice := h.createUser("sdiga", aliceID)
	bob := h.createUser("sdigb", bobID)
	if got := h.answer(aliceID, "digest "+alice+" weekly mon 09:00").Text; !strings.Contains(got, "Digest added") || !strings.Contains(got, "weekly mon 09:00") {
		t.Fatalf("alice's digest: %s", got)
	}
	if got := h.answer(aliceID, "digest "+alice+" timezone Europe/Berln").Text; !strings.Contains(got, "unknown time zone `Europe/Berln`") {
		t.Fatalf("a bad zone: %s", got)
	}
	if got := h.answer(aliceID, "digest "+alice+" daily 25:00").Text; !strings.Contains(got, "`25:00` is not a time of day: use HH:MM, 00:00–23:59") {
		t.Fatalf("a bad time: %s", got)
	}
	if got := h.answer(aliceID, "digest "+bob+" daily 09:00").Text; !strings.Contains(got, "you may only manage your own user") {
		t.Fatalf("alice on bob's digest: %s", got)
	}
	if n := h.auditCount("slack:"+aliceID, "digest.add"); n != 1 {
		t.Fatalf("%d digest.add audited, want 1", n)
	}
	if got := h.answer(aliceID, "digest "+alice+" list").Text; !strings.Contains(got, "weekly mon 09:00") || !strings.Contains(got, "`UTC`") {
		t.Fatalf("list: %s", got)
	}
}

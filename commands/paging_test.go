package commands_test

import (
	"context"
	"fmt"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
)

func TestListUsersPageCountsAndEndsExactlyAtTheLastUser(t *testing.T) {
	t.Parallel()
	env := commandstest.New(t)
	ctx := context.Background()
	var linked []int64
	for i := range 100 {
		owner := ""
		if i%4 == 0 {
			owner = "U0OWNER001"
		}
		u, err := env.DB.Users().Insert(ctx, fmt.Sprintf("pg-%03d", i), owner)
		if err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			linked = append(linked, u.ID)
		}
	}
	admin := commands.Actor{Name: "test", Admin: true}
	first, err := env.Service.ListUsersPage(ctx, admin, commands.PageRequest{Count: true})
	if err != nil || len(first.Users) != 50 || first.NextCursor == "" || first.Total != 100 || first.More != 50 {
		t.Fatalf("first page: %d users, next %q, total %d, more %d, %v", len(first.Users), first.NextCursor, first.Total, first.More, err)
	}
	second, err := env.Service.ListUsersPage(ctx, admin, commands.PageRequest{Cursor: first.NextCursor, Count: true})
	if err != nil || len(second.Users) != 50 || second.NextCursor != "" || second.More != 0 || second.Users[0].ID <= first.Users[49].ID {
		t.Fatalf("second (last) page: %d users, next %q, more %d, %v", len(second.Users), second.NextCursor, second.More, err)
	}

	// A Slack member sees the users linked to them; one linked to none is refused; an
	// empty Slack ID never matches the users without an owner.
	member := commands.Actor{Name: "slack:U0OWNER001", SlackUserID: "U0OWNER001"}
	var got []int64
	if err := env.Service.EachUser(ctx, member, func(u cg.User) error { got = append(got, u.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(linked) {
		t.Fatalf("member's users %v, want %v", got, linked)
	}
	if _, err := env.Service.ListUsersPage(ctx, commands.Actor{Name: "nobody"}, commands.PageRequest{}); cg.ErrorCode(err) != cg.EFORBIDDEN {
		t.Fatalf("an actor linked to nothing: %v", err)
	}
	for _, req := range []commands.PageRequest{{Limit: -1}, {Limit: commands.MaxPageLimit + 1}, {Cursor: "eyJpZCI6MX0"}, {Cursor: "YWZ0ZXI6MA"}} {
		if _, err := env.Service.ListUsersPage(ctx, admin, req); cg.ErrorCode(err) != cg.EINVALID {
			t.Errorf("%+v: %v, want invalid", req, err)
		}
	}
}

package main

import (
	"strings"
	"sync"
	"testing"

	"credential-grafana/commands/commandstest"
	"credential-grafana/db/dbtest"
)

// Five concurrent `user add` of one name: one creates it, the others say it is being
// created (or exists); none shows a raw SQLSTATE.
func TestCLIConcurrentAddsOfOneNameSayItIsBeingCreated(t *testing.T) {
	_, cli := cliEnv(t)
	if code, _, errOut := cli("", "user", "list"); code != 0 { // creates and migrates the master database
		t.Fatalf("user list: %d %s", code, errOut)
	}
	racer := dbtest.UniqueName("racer")
	commandstest.DropUserLater(t, racer)
	var wg sync.WaitGroup
	codes := make([]int, 5)
	errs := make([]string, 5)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, errs[i] = cli("", "user", "add", racer)
		}()
	}
	wg.Wait()
	created := 0
	for i, code := range codes {
		switch {
		case code == 0:
			created++
		case strings.Contains(errs[i], racer+" is being created by another request") || strings.Contains(errs[i], "already exists"):
		default:
			t.Errorf("add %d: exit %d: %s", i, code, errs[i])
		}
		if strings.Contains(errs[i], "SQLSTATE") || strings.Contains(errs[i], "XX000") {
			t.Errorf("add %d shows a raw SQLSTATE: %s", i, errs[i])
		}
	}
	if created != 1 {
		t.Fatalf("%d of five concurrent adds created the user, want exactly 1 (exit codes %v)", created, codes)
	}
	if code, out, _ := cli("", "user", "show", racer); code != 0 || !strings.Contains(out, "active") {
		t.Fatalf("user show after the race: %d %s", code, out)
	}
}

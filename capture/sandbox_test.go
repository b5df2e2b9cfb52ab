package capture

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// userNamespacesWork reports whether an unprivileged process (nobody, when the test runs as
// root) may create a user namespace, which Chromium's sandbox needs.
func userNamespacesWork(t *testing.T) bool {
	t.Helper()
	bin, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("no unshare(1) to find out whether user namespaces work")
	}
	cmd := exec.Command(bin, "--user", "true")
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	}
	return cmd.Run() == nil
}

// chromiumProcess returns the arguments and the real uid of a running Chromium.
func chromiumProcess(t *testing.T, pid int) (args []string, uid int) {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	args = strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			uid, _ = strconv.Atoi(f[1])
		}
	}
	return args, uid
}

// TestBrowser_ChromiumRunsInItsSandboxWhereItCan: where user namespaces work, Chromium
// runs with its sandbox, and not as root even when the service is root (Chromium's sandbox
// refuses root, so the service must not be what it runs as).
func TestBrowser_ChromiumRunsInItsSandboxWhereItCan(t *testing.T) {
	t.Parallel()
	if !userNamespacesWork(t) {
		t.Skip("user namespaces do not work here: Chromium cannot have its sandbox (TestBrowser_WithoutItsSandboxSaysSoOnce covers that)")
	}
	b, err := New(Config{Width: 640, Height: 360, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	srv := newDashboardServer(t, "")
	if _, err := b.RecordGIF(t.Context(), Recording{URL: srv.dashboardURL("sandboxed"), Frames: 1}); err != nil {
		t.Fatal(err)
	}
	args, uid := chromiumProcess(t, b.pid())
	for _, a := range args {
		if a == "--no-sandbox" {
			t.Errorf("chromium runs with --no-sandbox although user namespaces work: %v", args)
		}
	}
	if uid == 0 {
		t.Errorf("chromium runs as root")
	}
	if w := b.SandboxWarning(); w != "" {
		t.Errorf("SandboxWarning = %q for a sandboxed chromium", w)
	}
}

// TestBrowser_WithoutItsSandboxSaysSoOnce: a Chromium that will not start with its sandbox
// (here a wrapper that refuses as Chromium does without user namespaces) runs without it; the
// log says so once, across a restart, and SandboxWarning says why for status.
func TestBrowser_WithoutItsSandboxSaysSoOnce(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "cg-no-sandbox-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // nobody must reach the wrapper
		t.Fatal(err)
	}
	wrapper := filepath.Join(dir, "chromium")
	script := `#!/bin/sh
for a in "$@"; do [ "$a" = "--no-sandbox" ] && exec /usr/bin/chromium "$@"; done
echo "[1:1:0101/000000.000000:FATAL:zygote_host_impl_linux.cc(128)] No usable sandbox! Update your kernel or see https://chromium.googlesource.com/chromium/src/+/main/docs/linux/suid_sandbox_development.md" >&2
exit 1
`
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	logs := &syncWriter{w: &bytes.Buffer{}}
	b, err := New(Config{ChromiumPath: wrapper, Width: 640, Height: 360, Dir: t.TempDir(), Logger: zerolog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if w := b.SandboxWarning(); w != "" {
		t.Errorf("SandboxWarning before any start = %q", w)
	}
	if err := b.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	w := b.SandboxWarning()
	for _, want := range []string{"without its sandbox", "No usable sandbox!", "user namespaces"} {
		if !strings.Contains(w, want) {
			t.Errorf("SandboxWarning %q does not say %q", w, want)
		}
	}
	pid := b.pid()
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for syscall.Kill(pid, 0) == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if err := b.Check(t.Context()); err != nil {
		t.Fatalf("check after a restart: %v", err)
	}
	if b.pid() == pid {
		t.Fatal("chromium was not restarted")
	}
	if n := strings.Count(logs.String(), "without its sandbox"); n != 1 {
		t.Errorf("the log says %d times that chromium has no sandbox, want once:\n%s", n, logs.String())
	}
}

// syncWriter lets the Browser's logger and the test share a buffer.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

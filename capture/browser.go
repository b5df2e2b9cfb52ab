package capture

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/proto"
	"github.com/rs/zerolog"
)

// Browser is one headless Chromium shared by every recording. It is started on first use and
// started again when it has died. It is safe for concurrent use; at most Config.Concurrency
// recordings hold a page at once.
type Browser struct {
	cfg   Config
	log   zerolog.Logger
	slots chan struct{}

	mu        sync.Mutex
	inst      *instance
	closed    bool
	mode      *launchMode // how Chromium starts, decided at the first start that worked
	noSandbox string      // why Chromium runs without its sandbox; "" when it has it
}

// launchMode is one way of starting Chromium. Root cannot have Chromium's sandbox (Chromium
// refuses: "Running as root without --no-sandbox is not supported"), so as root Chromium runs
// as nobody (uid and gid 65534), where its sandbox works given unprivileged user namespaces.
type launchMode struct {
	asNobody bool
	sandbox  bool
}

// nobody is the uid and gid Chromium runs as when the service runs as root.
const nobody = 65534

func (m launchMode) String() string {
	user := "as this user"
	if m.asNobody {
		user = "as nobody (uid 65534)"
	} else if os.Geteuid() == 0 {
		user = "as root"
	}
	if m.sandbox {
		return "with its sandbox " + user
	}
	return "without its sandbox " + user
}

// launchModes are tried in order at the first start: the sandbox first.
func launchModes() []launchMode {
	if os.Geteuid() == 0 {
		return []launchMode{{asNobody: true, sandbox: true}, {asNobody: true}, {}}
	}
	return []launchMode{{sandbox: true}, {}}
}

// instance is one running Chromium process and the CDP connection to it.
type instance struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
	rod    *rod.Browser
	pid    int
	dir    string
}

// New checks cfg and returns a Browser; Chromium itself starts on the first recording (or
// Check). It returns an error wrapping ErrChromiumMissing when the binary cannot be found.
func New(cfg Config) (*Browser, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	bin, err := findChromium(cfg.ChromiumPath)
	if err != nil {
		return nil, err
	}
	cfg.ChromiumPath = bin
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create GIF directory: %w", err)
	}
	return &Browser{cfg: cfg, log: cfg.Logger, slots: make(chan struct{}, cfg.Concurrency)}, nil
}

func findChromium(path string) (string, error) {
	bin, err := exec.LookPath(path)
	if err != nil {
		return "", fmt.Errorf("%w (looked for %q)", ErrChromiumMissing, path)
	}
	return bin, nil
}

// Check reports whether the browser can record: it starts Chromium if it is not running (or
// has died) and asks it for its version. Meant for a readiness probe.
func (b *Browser) Check(ctx context.Context) error {
	inst, _, err := b.instance(ctx)
	if err != nil {
		return err
	}
	if _, err := (proto.BrowserGetVersion{}).Call(inst.rod.Context(ctx)); err != nil {
		return fmt.Errorf("check chromium: %w", err)
	}
	return nil
}

// SandboxWarning says why Chromium runs without its sandbox, and what would give it one;
// "" when it runs sandboxed or has not started yet. For status pages.
func (b *Browser) SandboxWarning() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.noSandbox
}

// Close stops Chromium and removes its profile directory. Recordings in progress fail.
func (b *Browser) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.inst != nil {
		b.inst.stop()
		b.inst = nil
	}
	return nil
}

// pid returns the running Chromium's process id, 0 when none runs (for tests).
func (b *Browser) pid() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inst == nil {
		return 0
	}
	return b.inst.pid
}

var errClosed = errors.New("capture browser closed")

// instance returns the running Chromium, starting it when there is none or the last one died.
// started is how long starting took, 0 when it was already running.
func (b *Browser) instance(ctx context.Context) (inst *instance, started time.Duration, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, 0, errClosed
	}
	if b.inst != nil {
		if b.inst.alive(ctx) {
			return b.inst, 0, nil
		}
		b.log.Warn().Int("pid", b.inst.pid).Msg("chromium died; starting a new one")
		b.inst.stop()
		b.inst = nil
	}
	t0 := time.Now()
	inst, err = b.launch(ctx)
	if err != nil {
		return nil, 0, err
	}
	b.inst = inst
	started = time.Since(t0)
	b.log.Info().Int("pid", inst.pid).Dur("took", started).Str("chromium", b.cfg.ChromiumPath).Msg("chromium started")
	return inst, started, nil
}

// launch starts Chromium the way the first start found to work. The first start tries
// launchModes in order; when Chromium only starts without its sandbox, that is logged once and
// SandboxWarning says so from then on. Called with b.mu held.
func (b *Browser) launch(ctx context.Context) (*instance, error) {
	if b.mode != nil {
		return b.launchAs(ctx, *b.mode)
	}
	var refused []string
	var firstErr error
	for _, mode := range launchModes() {
		inst, err := b.launchAs(ctx, mode)
		if err != nil {
			// Only a Chromium that said why it would not start is tried another way; a
			// sandboxed start is given up only when Chromium named its sandbox (or
			// namespaces, or root) as the reason.
			var early *exitedEarlyError
			if ctx.Err() != nil || !errors.As(err, &early) || (mode.sandbox && !early.sandbox) {
				return nil, cmp.Or(firstErr, err)
			}
			firstErr = cmp.Or(firstErr, err)
			refused = append(refused, fmt.Sprintf("%s: %v", mode, err))
			continue
		}
		b.mode = &mode
		if !mode.sandbox {
			b.noSandbox = sandboxWarning(mode, refused)
			b.log.Warn().Str("chromium", b.cfg.ChromiumPath).Strs("refused", refused).Msg(b.noSandbox)
		}
		return inst, nil
	}
	return nil, firstErr
}

// sandboxWarning is the one sentence status and the log show when Chromium has no sandbox.
func sandboxWarning(mode launchMode, refused []string) string {
	why := "it did not start with it"
	if len(refused) > 0 {
		why = refused[0]
	}
	if hint := userNamespaceHint(); hint != "" {
		why += "; " + hint
	}
	return fmt.Sprintf("Chromium runs %s (%s): a dashboard page that breaks Chromium gets the service's rights; allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces>0; in a container, a seccomp profile that allows them)", mode, why)
}

// userNamespaceHint names the kernel setting that switches unprivileged user namespaces off,
// which Chromium's sandbox needs; "" when none does.
func userNamespaceHint() string {
	for _, s := range []struct{ file, off, name string }{
		{"/proc/sys/kernel/unprivileged_userns_clone", "0", "kernel.unprivileged_userns_clone is 0"},
		{"/proc/sys/user/max_user_namespaces", "0", "user.max_user_namespaces is 0"},
		{"/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1", "kernel.apparmor_restrict_unprivileged_userns is 1"},
	} {
		if v, err := os.ReadFile(s.file); err == nil && strings.TrimSpace(string(v)) == s.off {
			return s.name
		}
	}
	return ""
}

func (b *Browser) launchAs(ctx context.Context, mode launchMode) (*instance, error) {
	if _, err := findChromium(b.cfg.ChromiumPath); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cg-chromium-")
	if err != nil {
		return nil, fmt.Errorf("create chromium profile directory: %w", err)
	}
	if mode.asNobody {
		if err := os.Chown(dir, nobody, nobody); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("give the chromium profile directory to nobody: %w", err)
		}
	}
	l := launcher.New().
		Context(ctx).
		Bin(b.cfg.ChromiumPath). // a set binary turns go-rod's downloader off
		Leakless(false).
		Headless(true).
		UserDataDir(dir).
		NoSandbox(!mode.sandbox).
		Set("disable-background-networking").
		Set("disable-component-update").
		Set("disable-sync").
		Set("no-first-run").
		Set("disable-gpu").
		Set("disable-quic").
		Set("hide-scrollbars").
		Set("mute-audio").
		Set("disable-extensions").
		Set("window-size", strconv.Itoa(b.cfg.Width)+","+strconv.Itoa(b.cfg.Height))
	inst, u, err := start(ctx, b.cfg.ChromiumPath, l.FormatArgs(), mode.asNobody, dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start chromium %s: %w", b.cfg.ChromiumPath, err)
	}
	inst.dir = dir
	rb := rod.New().ControlURL(u).NoDefaultDevice()
	if err := rb.Connect(); err != nil {
		inst.stop()
		return nil, fmt.Errorf("connect to chromium: %w", err)
	}
	inst.rod = rb
	return inst, nil
}

// alive reports whether the process exists and answers over CDP.
func (i *instance) alive(ctx context.Context) bool {
	if syscall.Kill(i.pid, 0) != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := proto.BrowserGetVersion{}.Call(i.rod.Context(ctx))
	return err == nil
}

// stop kills the process group and removes the profile directory.
func (i *instance) stop() {
	if i.rod != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = proto.BrowserClose{}.Call(i.rod.Context(ctx))
		cancel()
	}
	if i.pid > 0 {
		_ = syscall.Kill(-i.pid, syscall.SIGKILL) // the launcher starts Chromium in its own group
	}
	select {
	case <-i.exited:
	case <-time.After(5 * time.Second):
	}
	_ = os.RemoveAll(i.dir)
}

// devToolsLine is how Chromium announces its DevTools endpoint on stderr.
var devToolsLine = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// start runs Chromium with args (go-rod's launcher formats them) in a process group of
// its own, and asks the kernel to kill it when this process dies (Pdeathsig), so a
// crashed or killed service leaves no browser behind. asNobody runs it as uid and gid
// 65534 with home (its profile directory) as HOME. It returns the DevTools URL; when
// Chromium exits first, the error carries what it said on stderr.
func start(ctx context.Context, bin string, args []string, asNobody bool, home string) (*instance, string, error) {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if asNobody {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}
		cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	inst := &instance{cmd: cmd, pid: cmd.Process.Pid, exited: make(chan struct{})}
	found := make(chan string, 1)
	var said chromiumSaid
	go func() {
		sc := bufio.NewScanner(stderr)
		var sent bool
		for sc.Scan() { // read to the end, or Chromium blocks on a full pipe
			if m := devToolsLine.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			} else if !sent {
				said.add(sc.Text())
			}
		}
		_ = cmd.Wait()
		close(inst.exited)
	}()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	select {
	case u := <-found:
		return inst, u, nil
	case <-inst.exited:
		said.mu.Lock()
		sandbox := said.reason != ""
		said.mu.Unlock()
		return nil, "", &exitedEarlyError{state: cmd.ProcessState.String(), said: said.String(), sandbox: sandbox}
	case <-timeout.C:
	case <-ctx.Done():
	}
	_ = syscall.Kill(-inst.pid, syscall.SIGKILL)
	return nil, "", fmt.Errorf("chromium did not announce its DevTools endpoint in time")
}

// exitedEarlyError is a Chromium that exited before announcing its DevTools endpoint.
type exitedEarlyError struct {
	state   string // how it exited
	said    string // what it said on stderr (see chromiumSaid)
	sandbox bool   // it named its sandbox, namespaces or root as the reason
}

func (e *exitedEarlyError) Error() string {
	return fmt.Sprintf("chromium exited before it was ready (%s): %s", e.state, e.said)
}

// chromiumSaid keeps what Chromium wrote on stderr before it was ready: the line that names
// the sandbox or root when there is one (why it refused to start), else the last line.
type chromiumSaid struct {
	mu           sync.Mutex
	reason, last string
}

// sandboxLine matches Chromium's reasons for not starting with its sandbox: "No usable
// sandbox!", "Running as root without --no-sandbox is not supported", "The SUID sandbox
// helper binary was found, but is not configured correctly", "Failed to move to new
// namespace: …".
var sandboxLine = regexp.MustCompile(`(?i)sandbox|namespace|running as root`)

func (c *chromiumSaid) add(line string) {
	line = strings.TrimSpace(line)
	if line == "" {
		return
	}
	if _, msg, ok := strings.Cut(line, "] "); ok && strings.HasPrefix(line, "[") {
		line = msg // drop Chromium's [pid:tid:time:LEVEL:file] prefix
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason == "" && sandboxLine.MatchString(line) {
		c.reason = line
	}
	c.last = line
}

func (c *chromiumSaid) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cmp.Or(c.reason, c.last, "nothing on stderr")
}

// acquire waits for a free page slot.
func (b *Browser) acquire(ctx context.Context) (release func(), err error) {
	select {
	case b.slots <- struct{}{}:
		return func() { <-b.slots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for a capture slot: %w", context.Cause(ctx))
	}
}

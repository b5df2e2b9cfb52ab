package capture

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
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

	mu     sync.Mutex
	inst   *instance
	closed bool
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

func (b *Browser) launch(ctx context.Context) (*instance, error) {
	if _, err := findChromium(b.cfg.ChromiumPath); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cg-chromium-")
	if err != nil {
		return nil, fmt.Errorf("create chromium profile directory: %w", err)
	}
	l := launcher.New().
		Context(ctx).
		Bin(b.cfg.ChromiumPath). // a set binary turns go-rod's downloader off
		Leakless(false).
		Headless(true).
		UserDataDir(dir).
		NoSandbox(os.Geteuid() == 0).
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
	inst, u, err := start(ctx, b.cfg.ChromiumPath, l.FormatArgs())
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
// crashed or killed service leaves no browser behind. It returns the DevTools URL.
func start(ctx context.Context, bin string, args []string) (*instance, string, error) {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	inst := &instance{cmd: cmd, pid: cmd.Process.Pid, exited: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var sent bool
		for sc.Scan() { // read to the end, or Chromium blocks on a full pipe
			if m := devToolsLine.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
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
		return nil, "", fmt.Errorf("chromium exited before it was ready (%v)", cmd.ProcessState)
	case <-timeout.C:
	case <-ctx.Done():
	}
	_ = syscall.Kill(-inst.pid, syscall.SIGKILL)
	return nil, "", fmt.Errorf("chromium did not announce its DevTools endpoint in time")
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

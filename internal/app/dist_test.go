package app

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"credential-grafana/db/dbtest"
)

// TestDistTarballStartsAndServesHealthz builds the release tarball with `make dist`,
// unpacks it into an empty directory, writes a .env beside the binary and starts it:
// the service comes up and answers /healthz, and stops on SIGTERM.
func TestDistTarballStartsAndServesHealthz(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a release")
	}
	t.Parallel()
	out := t.TempDir()
	build := exec.Command("make", "dist", "DIST_DIR="+out, "VERSION=9.9.9-test")
	build.Dir = moduleRoot
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make dist: %v\n%s", err, b)
	}
	tarball := filepath.Join(out, fmt.Sprintf("credential-grafana-9.9.9-test-%s-%s.tar.gz", goEnv(t, "GOOS"), goEnv(t, "GOARCH")))
	dir := t.TempDir()
	if b, err := exec.Command("tar", "-C", dir, "-xzf", tarball).CombinedOutput(); err != nil {
		t.Fatalf("unpack %s: %v\n%s", tarball, err, b)
	}
	root := filepath.Join(dir, strings.TrimSuffix(filepath.Base(tarball), ".tar.gz"))
	for _, f := range []string{"credential-grafana", ".env.example", "slack-app-manifest.yaml", "credential-grafana.service", "INSTALL.md"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("the tarball lacks %s: %v", f, err)
		}
	}
	name := dbtest.UniqueName("cgdist_")
	t.Cleanup(func() { dbtest.DropDatabase(t, name) })
	port := freePort(t)
	env := fmt.Sprintf("CREDENTIALS_KEY=%s\nDATABASE_URL=%s\nPORT=%d\nHOST=127.0.0.1\nMETRICS_ADDR=off\nLOG_FORMAT=json\nCHROMIUM_PATH=/nonexistent\n", testKey, dbtest.URLFor(name), port)
	if err := os.WriteFile(filepath.Join(root, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.Command("./credential-grafana", "serve")
	cmd.Dir, cmd.Stdout, cmd.Stderr = root, &log, &log
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the unpacked service never answered /healthz:\n%s", log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if v, err := exec.Command(filepath.Join(root, "credential-grafana"), "version").Output(); err != nil || !strings.Contains(string(v), "9.9.9-test") {
		t.Errorf("version = %q, %v", v, err)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, log.String())
		}
	case <-time.After(90 * time.Second):
		t.Errorf("still running 90 s after SIGTERM:\n%s", log.String())
	}
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	b, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestComposeFileIsValid checks compose.yaml with `docker compose config -q` where the
// docker CLI has the compose plugin (it does not on the CI machine, which has no Docker).
func TestComposeFileIsValid(t *testing.T) {
	if err := exec.Command("docker", "compose", "version").Run(); err != nil {
		t.Skip("no docker compose here")
	}
	dir := t.TempDir()
	for _, f := range []string{"compose.yaml", "Dockerfile"} {
		b, err := os.ReadFile(filepath.Join(moduleRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"postgres_password", "credentials_key", "admin_api_token", "grafana_admin_password"} {
		if err := os.WriteFile(filepath.Join(dir, "secrets", s), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("docker", "compose", "config", "-q")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("docker compose config: %v\n%s", err, b)
	}
}

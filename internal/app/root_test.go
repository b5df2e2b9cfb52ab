package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// moduleRoot is the directory of go.mod, where the files the tests read beside the code
// live (.env.example, the Slack manifest, the Makefile, compose.yaml); TestMain sets it.
var moduleRoot string

// testBuild is the Build main.go hands Run, with the module root's files read instead
// of embedded; TestMain sets it.
var testBuild Build

// run is Run with the tests' Build: what the binary does with its arguments.
func run(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return Run(ctx, testBuild, argv, stdin, stdout, stderr)
}

// loadTestBuild finds the module root above the working directory (this package's
// directory, where `go test` runs its tests) and reads the files main.go embeds.
func loadTestBuild() error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
	moduleRoot = dir
	example, err := os.ReadFile(filepath.Join(dir, ".env.example"))
	if err != nil {
		return err
	}
	manifest, err := os.ReadFile(filepath.Join(dir, "slack-app-manifest.yaml"))
	if err != nil {
		return err
	}
	testBuild = Build{Version: "test", EnvExample: string(example), SlackManifest: string(manifest)}
	return nil
}

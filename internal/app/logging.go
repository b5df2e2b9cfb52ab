package app

import (
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// newLogger builds the service's logger: human-readable on a terminal, JSON otherwise
// (LOG_FORMAT overrides), and also JSON into LOG_FILE when set. The returned closer
// closes that file.
func newLogger(cfg Config, stderr io.Writer) (zerolog.Logger, io.Closer, error) {
	level, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil {
		return zerolog.Nop(), nil, err
	}
	var out io.Writer = stderr
	format := cfg.LogFormat
	if format == "auto" {
		format = "json"
		if f, ok := stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "console"
		}
	}
	if format == "console" {
		out = zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly}
	}
	var closer io.Closer = io.NopCloser(nil)
	if cfg.LogFile != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.LogFile), 0o755); err != nil {
			return zerolog.Nop(), nil, err
		}
		f, err := os.OpenFile(cfg.LogFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return zerolog.Nop(), nil, err
		}
		out = zerolog.MultiLevelWriter(out, f)
		closer = f
	}
	// One event at a time: the service logs from many goroutines, and a writer that is not
	// a file (a test's buffer, a pipe wrapper) may not take concurrent writes.
	return zerolog.New(zerolog.SyncWriter(out)).Level(level).With().Timestamp().Logger(), closer, nil
}

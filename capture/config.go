package capture

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"
)

// Config configures a Browser. Zero values take the defaults stated on each field.
type Config struct {
	// ChromiumPath is the Chromium binary. Defaults to /usr/bin/chromium (Debian's chromium
	// package). It is never downloaded.
	ChromiumPath string

	// Width and Height are the viewport, and so the GIF size, in pixels. Default to 1920×1080.
	Width, Height int

	// Concurrency is how many pages may record at once, each in its own incognito browser
	// context. Defaults to 2.
	Concurrency int

	// IdleClose is how long Chromium keeps running without a recording (or Check) before it
	// is closed and its memory returned; the next recording starts it again. Defaults to 5
	// minutes; a negative value keeps it running.
	IdleClose time.Duration

	// Timeout bounds each wait for a page to become ready. Defaults to 60 seconds.
	Timeout time.Duration

	// PaintDelay is waited after a page is ready and before its screenshot, for canvas panels to
	// paint. Defaults to 200 ms; a negative value means no delay.
	PaintDelay time.Duration

	// MaxGIFBytes is the size ceiling of a GIF; a larger one is scaled down and re-encoded.
	// Defaults to 8 MiB (Slack shows larger GIFs only as files).
	MaxGIFBytes int64

	// Dir is where GIFs are written. Defaults to <os.TempDir()>/credential-grafana-gifs.
	Dir string

	// Theme, "dark" or "light", is set as the page's theme= parameter when the URL has none.
	// Defaults to leaving the URL as it is.
	Theme string

	// Logger receives one event per browser start, restart and recording. Defaults to a logger
	// that writes nothing.
	Logger zerolog.Logger
}

const defaultChromium = "/usr/bin/chromium"

func (c Config) withDefaults() Config {
	c.ChromiumPath = cmp.Or(c.ChromiumPath, defaultChromium)
	c.Width = cmp.Or(c.Width, 1920)
	c.Height = cmp.Or(c.Height, 1080)
	c.Concurrency = cmp.Or(c.Concurrency, 2)
	c.Timeout = cmp.Or(c.Timeout, 60*time.Second)
	c.IdleClose = cmp.Or(c.IdleClose, 5*time.Minute)
	c.PaintDelay = cmp.Or(c.PaintDelay, 200*time.Millisecond)
	if c.PaintDelay < 0 {
		c.PaintDelay = 0
	}
	c.MaxGIFBytes = cmp.Or(c.MaxGIFBytes, 8<<20)
	c.Dir = cmp.Or(c.Dir, filepath.Join(os.TempDir(), "credential-grafana-gifs"))
	return c
}

func (c Config) validate() error {
	switch {
	case c.Width < 16 || c.Width > 7680 || c.Height < 16 || c.Height > 7680:
		return fmt.Errorf("capture size %dx%d: width and height must be 16 to 7680", c.Width, c.Height)
	case c.Concurrency < 1:
		return fmt.Errorf("capture concurrency %d: must be at least 1", c.Concurrency)
	case c.Timeout < 0:
		return fmt.Errorf("capture timeout %s: must be positive", c.Timeout)
	case c.MaxGIFBytes < 64<<10:
		return fmt.Errorf("GIF size ceiling %d bytes: must be at least 64 KiB", c.MaxGIFBytes)
	case c.Theme != "" && c.Theme != "dark" && c.Theme != "light":
		return fmt.Errorf("theme %q: use dark or light", c.Theme)
	}
	return nil
}

package capture

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// gifStream encodes screenshots in the background while the next ones are taken: each PNG is
// decoded, compared with the previous frame, quantised and LZW-compressed in the pause before
// the next screenshot, so that when the last screenshot arrives only that frame is left to do.
type gifStream struct {
	enc    *gifEncoder
	in     chan streamFrame
	done   chan struct{}
	err    error
	closed bool

	pngs   [][]byte
	delays []time.Duration

	decode, encode time.Duration // wall time spent decoding PNGs and encoding frames
}

type streamFrame struct {
	png   []byte
	delay time.Duration
}

func newGIFStream(noDiff bool) *gifStream {
	s := &gifStream{enc: newGIFEncoder(), in: make(chan streamFrame, 256), done: make(chan struct{})}
	s.enc.noDiff = noDiff
	go s.run()
	return s
}

func (s *gifStream) run() {
	defer close(s.done)
	for f := range s.in {
		if s.err != nil {
			continue // drain
		}
		t0 := time.Now()
		img, err := png.Decode(bytes.NewReader(f.png))
		if err != nil {
			s.err = fmt.Errorf("decode screenshot %d: %w", len(s.enc.blocks)+1, err)
			continue
		}
		t1 := time.Now()
		pix, w, h := rgbaPixels(img)
		if err := s.enc.add(pix, w, h, f.delay); err != nil {
			s.err = fmt.Errorf("encode frame %d: %w", len(s.enc.blocks)+1, err)
		}
		s.decode += t1.Sub(t0)
		s.encode += time.Since(t1)
	}
}

// add queues a PNG screenshot; it does not wait for the encoding.
func (s *gifStream) add(pngData []byte, delay time.Duration) {
	s.pngs = append(s.pngs, pngData)
	s.delays = append(s.delays, delay)
	s.in <- streamFrame{png: pngData, delay: delay}
}

// finish waits for the queued frames and returns the GIF.
func (s *gifStream) finish() ([]byte, error) {
	s.close()
	if s.err != nil {
		return nil, s.err
	}
	return s.enc.bytes()
}

// abort stops the background encoder without producing a GIF. It may follow finish.
func (s *gifStream) abort() { s.close() }

func (s *gifStream) close() {
	if !s.closed {
		s.closed = true
		close(s.in)
	}
	<-s.done
}

// shrinkGIF re-encodes the frames scaled down until the GIF fits in maxBytes. It is the slow
// path, taken only when a recording is too large for Slack. It returns the GIF and its size.
func shrinkGIF(pngs [][]byte, delays []time.Duration, size int, maxBytes int64) ([]byte, int, int, error) {
	var frames [][]byte
	w, h := 0, 0
	for i, p := range pngs {
		img, err := png.Decode(bytes.NewReader(p))
		if err != nil {
			return nil, 0, 0, fmt.Errorf("decode screenshot %d: %w", i+1, err)
		}
		pix, fw, fh := rgbaPixels(img)
		frames = append(frames, pix)
		w, h = fw, fh
	}
	scale := 1.0
	for attempt := 0; attempt < 6; attempt++ {
		// Bytes shrink roughly with the area; aim a little under the ceiling.
		scale *= math.Sqrt(float64(maxBytes)/float64(size)) * 0.92
		nw, nh := max(int(float64(w)*scale), 1), max(int(float64(h)*scale), 1)
		enc := newGIFEncoder()
		for i, pix := range frames {
			if err := enc.add(scaleRGBA(pix, w, h, nw, nh), nw, nh, delays[i]); err != nil {
				return nil, 0, 0, err
			}
		}
		b, err := enc.bytes()
		if err != nil {
			return nil, 0, 0, err
		}
		if int64(len(b)) <= maxBytes {
			return b, nw, nh, nil
		}
		size = int(float64(len(b)) / (scale * scale)) // the full-size estimate for the next try
	}
	return nil, 0, 0, fmt.Errorf("GIF still larger than %d bytes after scaling down to %.0f%%", maxBytes, scale*100)
}

// fileName turns a recording's name into a safe file name ending in .gif: letters, digits, '.',
// '_' and '-' are kept, anything else becomes '-', and the result is at most 120 bytes.
func fileName(name string) string {
	name = strings.TrimSuffix(strings.TrimSpace(name), ".gif")
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), ".-")
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	if len(s) > 120 {
		s = s[:120]
	}
	if s == "" {
		s = "dashboard"
	}
	return s + ".gif"
}

// writeFileAtomic writes data to dir/name through a temporary file in dir that is synced and
// then renamed, so readers see either the old file or the whole new one.
func writeFileAtomic(dir, name string, data []byte) (path string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create GIF directory: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("create temporary GIF: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return "", fmt.Errorf("write GIF: %w", err)
	}
	if err = f.Sync(); err != nil {
		return "", fmt.Errorf("sync GIF: %w", err)
	}
	if err = f.Chmod(0o644); err != nil {
		return "", fmt.Errorf("chmod GIF: %w", err)
	}
	if err = f.Close(); err != nil {
		return "", fmt.Errorf("close GIF: %w", err)
	}
	path = filepath.Join(dir, name)
	if err = os.Rename(f.Name(), path); err != nil {
		return "", fmt.Errorf("rename GIF into place: %w", err)
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync() // make the rename durable; not every file system supports it
		_ = d.Close()
	}
	return path, nil
}

package capture

import (
	"bytes"
	"image"
	"image/draw"
	"image/gif"
	"image/png"
	"math"
	"os"
	"sync"
	"testing"
)

// The tests share one Browser (one Chromium) where they can; tests that kill it or need other
// settings start their own.
var (
	sharedOnce sync.Once
	shared     *Browser
	sharedErr  error
)

const testW, testH = 1280, 720

func sharedBrowser(t testing.TB) *Browser {
	t.Helper()
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "capture-test-gifs-")
		if err != nil {
			sharedErr = err
			return
		}
		shared, sharedErr = New(Config{Width: testW, Height: testH, Dir: dir, Concurrency: 2})
	})
	if sharedErr != nil {
		t.Fatalf("start shared browser: %v", sharedErr)
	}
	return shared
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, b := range []*Browser{shared, benchBrowser} {
		if b != nil {
			_ = b.Close()
			_ = os.RemoveAll(b.cfg.Dir)
		}
	}
	os.Exit(code)
}

// decodeGIFFile decodes a GIF and composites its frames as a viewer shows them.
func decodeGIFFile(t testing.TB, path string) (*gif.GIF, []*image.RGBA) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return decodeGIF(t, data)
}

func decodeGIF(t testing.TB, data []byte) (*gif.GIF, []*image.RGBA) {
	t.Helper()
	g, err := gif.DecodeAll(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode GIF: %v", err)
	}
	return g, composite(g)
}

func composite(g *gif.GIF) []*image.RGBA {
	canvas := image.NewRGBA(image.Rect(0, 0, g.Config.Width, g.Config.Height))
	var out []*image.RGBA
	for _, fr := range g.Image {
		draw.Draw(canvas, fr.Bounds(), fr, fr.Bounds().Min, draw.Over)
		c := image.NewRGBA(canvas.Bounds())
		copy(c.Pix, canvas.Pix)
		out = append(out, c)
	}
	return out
}

func decodePNG(t testing.TB, data []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode PNG: %v", err)
	}
	return img
}

// psnrOf compares a decoded frame with the original image over the RGB channels.
func psnrOf(got *image.RGBA, want image.Image) float64 {
	pix, w, h := rgbaPixels(want)
	var sse float64
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*got.Stride + x*4
			j := (y*w + x) * 4
			for c := 0; c < 3; c++ {
				d := float64(got.Pix[i+c]) - float64(pix[j+c])
				sse += d * d
			}
		}
	}
	m := sse / float64(3*w*h)
	if m == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/m)
}

// diffRect is the bounding box of the pixels that differ between two same-sized images.
func diffRect(a, b *image.RGBA) image.Rectangle {
	var r image.Rectangle
	for y := 0; y < a.Rect.Dy(); y++ {
		for x := 0; x < a.Rect.Dx(); x++ {
			i := y*a.Stride + x*4
			if a.Pix[i] != b.Pix[i] || a.Pix[i+1] != b.Pix[i+1] || a.Pix[i+2] != b.Pix[i+2] {
				r = r.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return r
}

package capture

import (
	"bytes"
	"image"
	"image/color"
	stdpalette "image/color/palette"
	"image/draw"
	"image/gif"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// synthDashboard draws a dashboard-like picture: a dark background, panels, bars with
// gradients and soft (anti-aliased-looking) edges. seed varies the bar heights.
func synthDashboard(w, h int, seed uint64) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{17, 18, 23, 255}), image.Point{}, draw.Src)
	rng := rand.New(rand.NewPCG(seed, 7))
	for py := 0; py < 2; py++ {
		for px := 0; px < 3; px++ {
			r := image.Rect(8+px*w/3, 8+py*h/2, (px+1)*w/3-4, (py+1)*h/2-4)
			draw.Draw(img, r, image.NewUniform(color.RGBA{24, 27, 31, 255}), image.Point{}, draw.Src)
			for i := 0; i < 12; i++ {
				bh := int(rng.Float64() * float64(r.Dy()-20))
				x0 := r.Min.X + 6 + i*(r.Dx()-12)/12
				for y := r.Max.Y - 4 - bh; y < r.Max.Y-4; y++ {
					t := float64(y-r.Min.Y) / float64(r.Dy())
					for x := x0; x < x0+(r.Dx()-12)/12-3; x++ {
						c := color.RGBA{uint8(115 + 80*t), uint8(191 - 90*t), uint8(105 + 120*t), 255}
						if x == x0 { // a soft edge
							c = color.RGBA{(c.R + 24) / 2, (c.G + 27) / 2, (c.B + 31) / 2, 255}
						}
						img.SetRGBA(x, y, c)
					}
				}
			}
		}
	}
	return img
}

func encodeFrames(t testing.TB, frames []*image.RGBA, noDiff bool) (*gifEncoder, []byte) {
	t.Helper()
	enc := newGIFEncoder()
	enc.noDiff = noDiff
	for _, f := range frames {
		if err := enc.add(f.Pix, f.Rect.Dx(), f.Rect.Dy(), 500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	data, err := enc.bytes()
	if err != nil {
		t.Fatal(err)
	}
	return enc, data
}

func TestEncoder_FewColoursAreExact(t *testing.T) {
	t.Parallel()
	img := image.NewRGBA(image.Rect(0, 0, 300, 200))
	for y := 0; y < 200; y++ {
		for x := 0; x < 300; x++ {
			i := (x/20 + y/20*15) % 200 // 200 distinct colours
			img.SetRGBA(x, y, color.RGBA{uint8(i), uint8(255 - i), uint8(i * 7), 255})
		}
	}
	_, data := encodeFrames(t, []*image.RGBA{img}, false)
	_, frames := decodeGIF(t, data)
	if db := psnrOf(frames[0], img); db < 200 {
		t.Errorf("PSNR = %.1f dB, want lossless for 200 colours", db)
	}
}

func TestEncoder_PaletteBeatsAFixedOne(t *testing.T) {
	t.Parallel()
	img := synthDashboard(600, 400, 1)
	// Smooth gradients across the whole colour cube as well.
	for y := 0; y < 100; y++ {
		for x := 0; x < 600; x++ {
			img.SetRGBA(x, 300+y, color.RGBA{uint8(x * 255 / 600), uint8(y * 255 / 100), uint8(255 - x*255/600), 255})
		}
	}
	_, data := encodeFrames(t, []*image.RGBA{img}, false)
	_, frames := decodeGIF(t, data)
	ours := psnrOf(frames[0], img)

	plan9 := image.NewPaletted(img.Bounds(), stdpalette.Plan9)
	draw.Draw(plan9, img.Bounds(), img, image.Point{}, draw.Src) // no dithering
	rgba := image.NewRGBA(img.Bounds())
	draw.Draw(rgba, img.Bounds(), plan9, image.Point{}, draw.Src)
	fixed := psnrOf(rgba, img)
	t.Logf("median cut %.1f dB, Plan9 %.1f dB", ours, fixed)
	if ours < 38 || ours < fixed+6 {
		t.Errorf("median-cut palette gives %.1f dB against Plan9's %.1f dB; want >= 38 and 6 dB better", ours, fixed)
	}
}

func TestEncoder_LaterFramesCarryOnlyTheChangedRectangleWithUnchangedPixelsTransparent(t *testing.T) {
	t.Parallel()
	a := synthDashboard(400, 300, 3)
	b := image.NewRGBA(a.Rect)
	copy(b.Pix, a.Pix)
	// Change a checkerboard inside (100,50)-(140,70): half the pixels in the box stay the same.
	for y := 50; y < 70; y++ {
		for x := 100; x < 140; x++ {
			if (x+y)%2 == 0 {
				b.SetRGBA(x, y, color.RGBA{242, 73, 92, 255})
			}
		}
	}
	c := image.NewRGBA(a.Rect)
	copy(c.Pix, b.Pix) // a third frame identical to the second

	_, data := encodeFrames(t, []*image.RGBA{a, b, c}, false)
	g, frames := decodeGIF(t, data)
	if len(g.Image) != 3 {
		t.Fatalf("%d frames, want 3", len(g.Image))
	}
	if got, want := g.Image[1].Bounds(), image.Rect(100, 50, 140, 70); got != want {
		t.Errorf("second frame covers %v, want the changed rectangle %v", got, want)
	}
	fr := g.Image[1]
	for y := 50; y < 70; y++ {
		for x := 100; x < 140; x++ {
			_, _, _, alpha := fr.At(x, y).RGBA()
			if changed := (x+y)%2 == 0; changed != (alpha != 0) {
				t.Fatalf("pixel (%d,%d): changed=%v but transparent=%v", x, y, changed, alpha == 0)
			}
		}
	}
	if got := g.Image[2].Bounds(); got.Dx()*got.Dy() != 1 {
		t.Errorf("an unchanged frame covers %v, want one transparent pixel", got)
	}
	for i, want := range []*image.RGBA{a, b, c} {
		if db := psnrOf(frames[i], want); db < 45 {
			t.Errorf("frame %d PSNR %.1f dB, want >= 45", i, db)
		}
	}
	if g.Disposal[1] != gif.DisposalNone {
		t.Errorf("disposal = %d, want leave in place", g.Disposal[1])
	}
}

func TestEncoder_NewColoursGetALocalPalette(t *testing.T) {
	t.Parallel()
	a := image.NewRGBA(image.Rect(0, 0, 200, 200))
	for y := 0; y < 200; y++ {
		for x := 0; x < 200; x++ {
			v := uint8((x + y) * 255 / 400)
			a.SetRGBA(x, y, color.RGBA{v, v, v, 255}) // greys only
		}
	}
	b := image.NewRGBA(a.Rect)
	copy(b.Pix, a.Pix)
	for y := 20; y < 120; y++ {
		for x := 20; x < 180; x++ {
			b.SetRGBA(x, y, color.RGBA{uint8(x), uint8(y * 2), 200, 255}) // colours the greys cannot show
		}
	}
	enc, data := encodeFrames(t, []*image.RGBA{a, b}, false)
	if !enc.stats[1].Local {
		t.Errorf("second frame kept the global palette (MSE %.1f)", enc.stats[1].MSE)
	}
	_, frames := decodeGIF(t, data)
	if db := psnrOf(frames[1], b); db < 40 {
		t.Errorf("frame with new colours: PSNR %.1f dB, want >= 40", db)
	}
}

func TestShrinkGIF_ScalesDownUnderTheCeiling(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var pngs [][]byte
	var delays []time.Duration
	for f := 0; f < 2; f++ {
		img := image.NewRGBA(image.Rect(0, 0, 400, 300))
		for i := range img.Pix {
			img.Pix[i] = uint8(rng.IntN(256)) // noise: the worst case for LZW
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		pngs = append(pngs, buf.Bytes())
		delays = append(delays, time.Second)
	}
	full, err := encodeFromPNGs(pngs, delays)
	if err != nil {
		t.Fatal(err)
	}
	const ceiling = 100_000
	data, w, h, err := shrinkGIF(pngs, delays, len(full), ceiling)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > ceiling || len(full) <= ceiling {
		t.Fatalf("full %d bytes, shrunk %d bytes, ceiling %d", len(full), len(data), ceiling)
	}
	g, _ := decodeGIF(t, data)
	if g.Config.Width != w || g.Config.Height != h || w >= 400 || h >= 300 || len(g.Image) != 2 {
		t.Errorf("shrunk GIF is %dx%d with %d frames (reported %dx%d)", g.Config.Width, g.Config.Height, len(g.Image), w, h)
	}
	if r := float64(w) / float64(h); r < 1.3 || r > 1.37 {
		t.Errorf("aspect ratio %.2f, want 4:3 kept", r)
	}
}

func encodeFromPNGs(pngs [][]byte, delays []time.Duration) ([]byte, error) {
	s := newGIFStream(false)
	for i, p := range pngs {
		s.add(p, delays[i])
	}
	return s.finish()
}

func TestWriteFileAtomic_ReplacesWholeFilesAndLeavesNoTemporaries(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "gifs")
	p, err := writeFileAtomic(dir, "a.gif", []byte("first"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeFileAtomic(dir, "a.gif", []byte("second")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "second" {
		t.Fatalf("read %q, %v; want the second version", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only a.gif", len(entries))
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
}

func TestFileName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"timing-alice-run1", "timing-alice-run1.gif"},
		{"run 42 / final.gif", "run-42-final.gif"},
		{"../../etc/passwd", "etc-passwd.gif"},
		{"", "dashboard.gif"},
		{"ünïcödé", "n-c-d.gif"},
		{"...", "dashboard.gif"},
	} {
		if got := fileName(tc.in); got != tc.want {
			t.Errorf("fileName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSetQueryParam_KeepsBareKioskAndReplacesTheVariable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, key, val, want string }{
		{"http://g/d/x/y?orgId=1&kiosk&var-stage=place", "var-stage", "cts", "http://g/d/x/y?orgId=1&kiosk&var-stage=cts"},
		{"http://g/d/x/y", "var-stage", "a b&c", "http://g/d/x/y?var-stage=a+b%26c"},
		{"http://g/d/x/y?kiosk#frag", "theme", "light", "http://g/d/x/y?kiosk&theme=light#frag"},
	} {
		if got := setQueryParam(tc.in, tc.key, tc.val); got != tc.want {
			t.Errorf("setQueryParam(%q, %q, %q) = %q, want %q", tc.in, tc.key, tc.val, got, tc.want)
		}
	}
}

func TestConfig_DefaultsAndValidation(t *testing.T) {
	t.Parallel()
	c := Config{}.withDefaults()
	if c.ChromiumPath != "/usr/bin/chromium" || c.Width != 1920 || c.Height != 1080 || c.Concurrency != 2 ||
		c.Timeout != time.Minute || c.MaxGIFBytes != 8<<20 || c.Dir == "" {
		t.Errorf("defaults = %+v", c)
	}
	if err := c.validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
	for _, bad := range []Config{{Width: 8}, {Concurrency: -1}, {Theme: "blue"}, {MaxGIFBytes: 100}} {
		if err := bad.withDefaults().validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

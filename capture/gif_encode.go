package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"math"
	"runtime"
	"sync"
	"time"
)

// localPaletteMSE is the mean squared error (per channel) of a changed rectangle above which the
// frame gets its own palette: about 45 dB PSNR.
const localPaletteMSE = 2.06

// gifEncoder turns frames, one at a time, into the blocks of an animated GIF: a palette built
// once from the first frame, then for each later frame only the rectangle that changed, with the
// pixels inside it that did not change left transparent. A frame whose changed pixels the global
// palette cannot show well gets a local colour table of its own.
type gifEncoder struct {
	// noDiff encodes every frame whole with the global palette (the baseline the benchmarks
	// compare against).
	noDiff  bool
	workers int

	w, h   int
	pal    *palette
	prev   []byte // the previous frame's RGBA pixels, stride 4*w
	blocks [][]byte
	stats  []frameStat
}

// frameStat describes how one frame was encoded.
type frameStat struct {
	Rect  image.Rectangle
	Local bool    // the frame carries its own colour table
	MSE   float64 // quantisation error of the encoded (non-transparent) pixels
}

func newGIFEncoder() *gifEncoder {
	return &gifEncoder{workers: runtime.GOMAXPROCS(0)}
}

// rgbaPixels returns img's pixels as a tight RGBA buffer (stride 4*width), copying only when the
// image is not already one. Screenshots are opaque, so NRGBA and RGBA share a layout here.
func rgbaPixels(img image.Image) (pix []byte, w, h int) {
	b := img.Bounds()
	w, h = b.Dx(), b.Dy()
	switch m := img.(type) {
	case *image.RGBA:
		if m.Stride == 4*w && b.Min == (image.Point{}) {
			return m.Pix[:4*w*h], w, h
		}
	case *image.NRGBA:
		if m.Stride == 4*w && b.Min == (image.Point{}) {
			return m.Pix[:4*w*h], w, h
		}
	}
	pix = make([]byte, 4*w*h)
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			pix[i], pix[i+1], pix[i+2], pix[i+3] = uint8(r>>8), uint8(g>>8), uint8(bl>>8), 0xff
			i += 4
		}
	}
	return pix, w, h
}

// add encodes one frame. pix is w×h RGBA with stride 4*w; the encoder keeps it until the next
// frame, so the caller must not change it.
func (e *gifEncoder) add(pix []byte, w, h int, delay time.Duration) error {
	if len(pix) < 4*w*h {
		return errors.New("frame buffer smaller than its size")
	}
	if e.pal == nil {
		if w <= 0 || h <= 0 || w > 65535 || h > 65535 {
			return fmt.Errorf("frame size %dx%d out of GIF range", w, h)
		}
		e.w, e.h = w, h
		hist := newHistogram()
		hist.addRGBA(pix, 4*w, 0, 0, w, h)
		e.pal = buildPalette(hist)
	} else if w != e.w || h != e.h {
		return fmt.Errorf("frame size %dx%d differs from the first frame's %dx%d", w, h, e.w, e.h)
	}

	first := e.prev == nil
	rect := image.Rect(0, 0, w, h)
	diff := !first && !e.noDiff
	if diff {
		rect = e.changedRect(pix)
	}
	var block []byte
	var st frameStat
	if rect.Empty() {
		// Nothing changed: one transparent pixel keeps the frame and its delay.
		block = e.frameBlock(image.Rect(0, 0, 1, 1), []byte{transparent}, nil, delay, true)
		st = frameStat{Rect: image.Rect(0, 0, 1, 1)}
	} else {
		out := make([]byte, rect.Dx()*rect.Dy())
		sse, n := e.quantise(e.pal, pix, rect, out, diff)
		st = frameStat{Rect: rect, MSE: mse(sse, n)}
		var local *palette
		if !first && n >= 64 && st.MSE > localPaletteMSE {
			// A palette for the pixels this frame colours: the changed ones.
			hist := newHistogram()
			hist.addChanged(pix, e.prev, 4*w, rect.Min.X, rect.Min.Y, rect.Max.X, rect.Max.Y)
			lp := buildPalette(hist)
			out2 := make([]byte, len(out))
			sse2, n2 := e.quantise(lp, pix, rect, out2, diff)
			if m := mse(sse2, n2); m < st.MSE {
				local, out, st.MSE, st.Local = lp, out2, m, true
			}
		}
		block = e.frameBlock(rect, out, local, delay, !first)
	}
	e.blocks = append(e.blocks, block)
	e.stats = append(e.stats, st)
	e.prev = pix
	return nil
}

func mse(sse uint64, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(sse) / float64(3*n)
}

// psnr converts a per-channel mean squared error to decibels.
func psnr(mse float64) float64 {
	if mse <= 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/mse)
}

// changedRect returns the bounding rectangle of the pixels that differ from the previous frame.
func (e *gifEncoder) changedRect(pix []byte) image.Rectangle {
	stride := 4 * e.w
	bands := e.parallelRows(e.h)
	rects := make([]image.Rectangle, len(bands))
	var wg sync.WaitGroup
	for bi, band := range bands {
		wg.Go(func() {
			r := image.Rectangle{}
			for y := band[0]; y < band[1]; y++ {
				cur := pix[y*stride : (y+1)*stride]
				old := e.prev[y*stride : (y+1)*stride]
				if bytes.Equal(cur, old) {
					continue
				}
				c32, o32 := pixels32(cur), pixels32(old)
				x0 := 0
				for x0 < e.w && (c32[x0]^o32[x0])&0xffffff == 0 {
					x0++
				}
				if x0 == e.w {
					continue // only alpha differed
				}
				x1 := e.w
				for (c32[x1-1]^o32[x1-1])&0xffffff == 0 {
					x1--
				}
				r = r.Union(image.Rect(x0, y, x1, y+1))
			}
			rects[bi] = r
		})
	}
	wg.Wait()
	var all image.Rectangle
	for _, r := range rects {
		all = all.Union(r)
	}
	return all
}

// parallelRows splits n rows into one band per worker (fewer for small work).
func (e *gifEncoder) parallelRows(n int) [][2]int {
	k := e.workers
	if k < 1 {
		k = 1
	}
	if n < 64 {
		k = 1
	}
	bands := make([][2]int, 0, k)
	for i := 0; i < k; i++ {
		a, b := n*i/k, n*(i+1)/k
		if b > a {
			bands = append(bands, [2]int{a, b})
		}
	}
	return bands
}

// quantise maps rect of pix to palette indices in out (row-major, rect-sized). With diff set,
// pixels equal to the previous frame become transparent, unless they continue a run of the
// colour just written (which keeps LZW runs long and shows the same colour). It returns the
// squared error summed over the pixels it coloured and how many there were.
func (e *gifEncoder) quantise(p *palette, pix []byte, rect image.Rectangle, out []byte, diff bool) (uint64, int) {
	stride := 4 * e.w
	rw := rect.Dx()
	bands := e.parallelRows(rect.Dy())
	if rect.Dx()*rect.Dy() < 1<<16 {
		bands = [][2]int{{0, rect.Dy()}}
	}
	sses := make([]uint64, len(bands))
	counts := make([]int, len(bands))
	var wg sync.WaitGroup
	for bi, band := range bands {
		wg.Go(func() {
			var sse uint64
			n := 0
			last := uint32(1 << 31) // the colour of the last coloured pixel; none yet
			var lastIdx uint8
			var lastErr uint32
			for y := band[0]; y < band[1]; y++ {
				off := (rect.Min.Y+y)*stride + rect.Min.X*4
				cur := pixels32(pix[off : off+rw*4])
				dst := out[y*rw : (y+1)*rw]
				if !diff {
					for x, c := range cur {
						c &= 0xffffff
						if c != last {
							last = c
							lastIdx = p.index(c)
							lastErr = p.sqErr(c, lastIdx)
						}
						dst[x] = lastIdx
						sse += uint64(lastErr)
					}
					n += rw
					continue
				}
				old := pixels32(e.prev[off : off+rw*4])
				last = 1 << 31 // transparency runs start each row afresh
				for x := 0; x < rw; {
					// Eight unchanged pixels at once.
					if x+8 <= rw && last == 1<<31 && cur[x]^old[x]|cur[x+1]^old[x+1]|cur[x+2]^old[x+2]|cur[x+3]^old[x+3]|
						cur[x+4]^old[x+4]|cur[x+5]^old[x+5]|cur[x+6]^old[x+6]|cur[x+7]^old[x+7] == 0 {
						copy(dst[x:x+8], transparentRun[:])
						x += 8
						continue
					}
					c := cur[x] & 0xffffff
					switch {
					case c == last:
					case c == old[x]&0xffffff:
						dst[x] = transparent
						last = 1 << 31
						x++
						continue
					default:
						last = c
						lastIdx = p.index(c)
						lastErr = p.sqErr(c, lastIdx)
					}
					dst[x] = lastIdx
					sse += uint64(lastErr)
					n++
					x++
				}
			}
			sses[bi], counts[bi] = sse, n
		})
	}
	wg.Wait()
	var sse uint64
	n := 0
	for i := range sses {
		sse += sses[i]
		n += counts[i]
	}
	return sse, n
}

var transparentRun = [8]byte{transparent, transparent, transparent, transparent, transparent, transparent, transparent, transparent}

// frameBlock encodes one frame: graphic control extension, image descriptor, optional local
// colour table and the LZW data in sub-blocks.
func (e *gifEncoder) frameBlock(rect image.Rectangle, idx []byte, local *palette, delay time.Duration, transparency bool) []byte {
	data := lzwEncode(make([]byte, 0, len(idx)/4+64), idx)

	n := 8 + 10 + 1 + len(data) + (len(data)+254)/255 + 1
	if local != nil {
		n += 768
	}
	b := make([]byte, 0, n)
	cs := int(math.Round(delay.Seconds() * 100))
	cs = min(max(cs, 2), 65535) // browsers show delays under 2 cs as 10 cs
	packed := byte(1 << 2)      // disposal: leave the frame in place
	if transparency {
		packed |= 1
	}
	b = append(b, 0x21, 0xf9, 4, packed, byte(cs), byte(cs>>8), transparent, 0)
	b = append(b, 0x2c)
	b = binary.LittleEndian.AppendUint16(b, uint16(rect.Min.X))
	b = binary.LittleEndian.AppendUint16(b, uint16(rect.Min.Y))
	b = binary.LittleEndian.AppendUint16(b, uint16(rect.Dx()))
	b = binary.LittleEndian.AppendUint16(b, uint16(rect.Dy()))
	if local != nil {
		b = append(b, 0x87)
		b = append(b, local.table()...)
	} else {
		b = append(b, 0)
	}
	b = append(b, 8)
	for len(data) > 0 {
		k := min(len(data), 255)
		b = append(b, byte(k))
		b = append(b, data[:k]...)
		data = data[k:]
	}
	return append(b, 0)
}

// bytes assembles the GIF: header, global colour table, a loop-forever extension and the frames.
func (e *gifEncoder) bytes() ([]byte, error) {
	if e.pal == nil {
		return nil, errors.New("no frames to encode")
	}
	n := 13 + 768 + 19 + 1
	for _, bl := range e.blocks {
		n += len(bl)
	}
	b := make([]byte, 0, n)
	b = append(b, "GIF89a"...)
	b = binary.LittleEndian.AppendUint16(b, uint16(e.w))
	b = binary.LittleEndian.AppendUint16(b, uint16(e.h))
	b = append(b, 0xf7, 0, 0) // global table of 256 colours, 8-bit colour resolution
	b = append(b, e.pal.table()...)
	b = append(b, 0x21, 0xff, 11)
	b = append(b, "NETSCAPE2.0"...)
	b = append(b, 3, 1, 0, 0, 0)
	for _, bl := range e.blocks {
		b = append(b, bl...)
	}
	return append(b, 0x3b), nil
}

// scaleRGBA shrinks a w×h RGBA buffer to nw×nh by averaging each destination pixel's footprint.
func scaleRGBA(pix []byte, w, h, nw, nh int) []byte {
	out := make([]byte, 4*nw*nh)
	for y := 0; y < nh; y++ {
		sy0, sy1 := y*h/nh, max((y+1)*h/nh, y*h/nh+1)
		for x := 0; x < nw; x++ {
			sx0, sx1 := x*w/nw, max((x+1)*w/nw, x*w/nw+1)
			var r, g, b, cnt uint32
			for sy := sy0; sy < sy1; sy++ {
				row := pix[sy*4*w:]
				for sx := sx0; sx < sx1; sx++ {
					r += uint32(row[sx*4])
					g += uint32(row[sx*4+1])
					b += uint32(row[sx*4+2])
					cnt++
				}
			}
			o := (y*nw + x) * 4
			out[o], out[o+1], out[o+2], out[o+3] = uint8((r+cnt/2)/cnt), uint8((g+cnt/2)/cnt), uint8((b+cnt/2)/cnt), 0xff
		}
	}
	return out
}

package capture

import (
	"sync/atomic"
	"unsafe"
)

// The palette is built by a variance-minimising median cut over a histogram of 6-bit-per-channel
// bins, and looked up through a table with one entry per bin. No dithering: dashboards are flat
// colours, text and thin lines, where dithering adds noise, bytes and error.

const (
	binBits  = 6
	binShift = 8 - binBits
	binCount = 1 << (3 * binBits) // 262144
	binSide  = 1 << binBits       // 64

	// maxColours leaves index 255 free for the transparent colour of frame differencing.
	maxColours  = 255
	transparent = 255
)

func binKey(c uint32) uint32 {
	r, g, b := c&0xff, (c>>8)&0xff, (c>>16)&0xff
	return (r>>binShift)<<(2*binBits) | (g>>binShift)<<binBits | b>>binShift
}

// bin accumulates the pixels that fall into one histogram bin. The sums fit in 32 bits because
// a histogram takes at most maxHistPixels pixels.
type bin struct {
	n, r, g, b uint32
}

// maxHistPixels bounds the pixels one histogram counts (larger areas are sampled by rows).
const maxHistPixels = 1 << 24

// histogram counts pixels per bin; keys lists the occupied bins.
type histogram struct {
	bins []bin
	keys []uint32
}

func newHistogram() *histogram {
	return &histogram{bins: make([]bin, binCount), keys: make([]uint32, 0, 4096)}
}

// addRGBA adds the pixels of rectangle [x0,x1)×[y0,y1) of an RGBA pixel buffer, treating runs of
// one colour (the bulk of a dashboard) as one addition.
func (h *histogram) addRGBA(pix []byte, stride, x0, y0, x1, y1 int) {
	step := 1
	for (x1-x0)*((y1-y0+step-1)/step) > maxHistPixels {
		step++
	}
	last := uint32(1 << 31) // no colour has bit 31 set after masking
	var run uint32
	for y := y0; y < y1; y += step {
		row := pixels32(pix[y*stride+x0*4 : y*stride+x1*4])
		for _, c := range row {
			c &= 0xffffff
			if c == last {
				run++
				continue
			}
			if run > 0 {
				h.add(last, run)
			}
			last, run = c, 1
		}
	}
	if run > 0 {
		h.add(last, run)
	}
}

// addChanged adds the pixels of the rectangle that differ from prev (same layout as pix): the
// ones a differenced frame has to colour.
func (h *histogram) addChanged(pix, prev []byte, stride, x0, y0, x1, y1 int) {
	step := 1
	for (x1-x0)*((y1-y0+step-1)/step) > maxHistPixels {
		step++
	}
	last := uint32(1 << 31)
	var run uint32
	for y := y0; y < y1; y += step {
		cur := pixels32(pix[y*stride+x0*4 : y*stride+x1*4])
		old := pixels32(prev[y*stride+x0*4 : y*stride+x1*4])
		for x, c := range cur {
			c &= 0xffffff
			if c == old[x]&0xffffff {
				continue
			}
			if c == last {
				run++
				continue
			}
			if run > 0 {
				h.add(last, run)
			}
			last, run = c, 1
		}
	}
	if run > 0 {
		h.add(last, run)
	}
}

func (h *histogram) add(c, n uint32) {
	k := binKey(c)
	b := &h.bins[k]
	if b.n == 0 {
		h.keys = append(h.keys, k)
	}
	b.n += n
	b.r += (c & 0xff) * n
	b.g += ((c >> 8) & 0xff) * n
	b.b += ((c >> 16) & 0xff) * n
}

// palette maps colours to at most 255 indices through a lazily completed lookup table.
type palette struct {
	colours [][3]uint8
	// lut holds index+1 per bin, 0 while unknown. Bins seen when the palette was built are filled
	// from the median cut; others are filled on first use with the entry nearest the bin's centre.
	// Entries are written with atomics because quantiser workers share the table.
	lut []uint32
}

// box is a range of histogram bins (entries[lo:hi]) that becomes one palette colour.
type box struct {
	lo, hi  int
	n       uint64
	r, g, b uint64
	sq      float64 // Σ over bins of |bin sum|²/n: the squares, counting each pixel at its bin's mean
}

func (bx *box) sse() float64 {
	if bx.n == 0 {
		return 0
	}
	r, g, b := float64(bx.r), float64(bx.g), float64(bx.b)
	return max(bx.sq-(r*r+g*g+b*b)/float64(bx.n), 0)
}

func binSq(b *bin) float64 {
	r, g, bl := float64(b.r), float64(b.g), float64(b.b)
	return (r*r + g*g + bl*bl) / float64(b.n)
}

// buildPalette runs the median cut over h and returns a palette of at most maxColours colours.
// The box to split next is the one with the largest squared error, split on the axis and at the
// bin boundary that leave the least squared error in the two halves.
func buildPalette(h *histogram) *palette {
	entries := h.keys
	if len(entries) == 0 {
		entries = []uint32{0}
		h.bins[0].n = 1
	}
	boxes := make([]box, 0, maxColours)
	first := box{lo: 0, hi: len(entries)}
	sq := make([]float64, len(entries)) // per entry, in step with entries during partitioning
	for i, k := range entries {
		b := &h.bins[k]
		first.n += uint64(b.n)
		first.r += uint64(b.r)
		first.g += uint64(b.g)
		first.b += uint64(b.b)
		sq[i] = binSq(b)
		first.sq += sq[i]
	}
	boxes = append(boxes, first)
	errs := []float64{first.sse()}

	var buckets [binSide]box
	for len(boxes) < maxColours {
		best := -1
		for i := range boxes {
			if boxes[i].hi-boxes[i].lo > 1 && errs[i] > 0 && (best < 0 || errs[i] > errs[best]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		bx := boxes[best]
		bestAxis, bestCut, bestErr := -1, 0, 0.0
		var bestL, bestR box
		for axis := 0; axis < 3; axis++ {
			shift := uint(2-axis) * binBits
			buckets = [binSide]box{}
			for i, k := range entries[bx.lo:bx.hi] {
				c := (k >> shift) & (binSide - 1)
				b := &h.bins[k]
				u := &buckets[c]
				u.n += uint64(b.n)
				u.r += uint64(b.r)
				u.g += uint64(b.g)
				u.b += uint64(b.b)
				u.sq += sq[bx.lo+i]
				u.hi++ // number of entries in the bucket
			}
			var left box
			for c := 0; c < binSide-1; c++ {
				u := &buckets[c]
				left.n += u.n
				left.r += u.r
				left.g += u.g
				left.b += u.b
				left.sq += u.sq
				left.hi += u.hi
				if u.hi == 0 || left.n == 0 || left.n == bx.n {
					continue
				}
				right := box{n: bx.n - left.n, r: bx.r - left.r, g: bx.g - left.g, b: bx.b - left.b, sq: bx.sq - left.sq}
				e := left.sse() + right.sse()
				if bestAxis < 0 || e < bestErr {
					bestAxis, bestCut, bestErr = axis, c, e
					bestL, bestR = left, right
				}
			}
		}
		if bestAxis < 0 {
			errs[best] = 0 // all entries share one bin coordinate on every axis: cannot split
			continue
		}
		// Partition entries[lo:hi] so those with coordinate <= bestCut come first.
		shift := uint(2-bestAxis) * binBits
		seg, segSq := entries[bx.lo:bx.hi], sq[bx.lo:bx.hi]
		i, j := 0, len(seg)-1
		for i <= j {
			if int((seg[i]>>shift)&(binSide-1)) <= bestCut {
				i++
			} else {
				seg[i], seg[j] = seg[j], seg[i]
				segSq[i], segSq[j] = segSq[j], segSq[i]
				j--
			}
		}
		bestL.lo, bestL.hi = bx.lo, bx.lo+i
		bestR.lo, bestR.hi = bx.lo+i, bx.hi
		boxes[best] = bestL
		errs[best] = bestL.sse()
		boxes = append(boxes, bestR)
		errs = append(errs, bestR.sse())
	}

	p := &palette{colours: make([][3]uint8, len(boxes)), lut: make([]uint32, binCount)}
	for i, bx := range boxes {
		n := bx.n
		p.colours[i] = [3]uint8{uint8((bx.r + n/2) / n), uint8((bx.g + n/2) / n), uint8((bx.b + n/2) / n)}
		for _, k := range entries[bx.lo:bx.hi] {
			p.lut[k] = uint32(i) + 1
		}
	}
	return p
}

// index returns the palette index for colour c (0xBBGGRR) and the squared error it leaves.
func (p *palette) index(c uint32) uint8 {
	k := binKey(c)
	if v := atomic.LoadUint32(&p.lut[k]); v != 0 {
		return uint8(v - 1)
	}
	// Centre of the bin.
	half := uint32(1) << (binShift - 1)
	r := (k>>(2*binBits))<<binShift | half
	g := ((k>>binBits)&(binSide-1))<<binShift | half
	b := (k&(binSide-1))<<binShift | half
	i := p.nearest(uint8(r), uint8(g), uint8(b))
	atomic.StoreUint32(&p.lut[k], uint32(i)+1)
	return i
}

func (p *palette) nearest(r, g, b uint8) uint8 {
	best, bestD := 0, int32(1<<30)
	for i, c := range p.colours {
		dr, dg, db := int32(c[0])-int32(r), int32(c[1])-int32(g), int32(c[2])-int32(b)
		d := dr*dr + dg*dg + db*db
		if d < bestD {
			best, bestD = i, d
		}
	}
	return uint8(best)
}

// sqErr is the squared error of showing palette entry i for colour c.
func (p *palette) sqErr(c uint32, i uint8) uint32 {
	e := p.colours[i]
	dr := int32(c&0xff) - int32(e[0])
	dg := int32((c>>8)&0xff) - int32(e[1])
	db := int32((c>>16)&0xff) - int32(e[2])
	return uint32(dr*dr + dg*dg + db*db)
}

// table returns the 256-entry GIF colour table: the palette colours, then black padding (the
// transparent entry is the last one).
func (p *palette) table() []byte {
	t := make([]byte, 256*3)
	for i, c := range p.colours {
		copy(t[i*3:], c[:])
	}
	return t
}

// pixels32 views RGBA bytes as one little-endian uint32 per pixel (0xAABBGGRR), without copying.
func pixels32(b []byte) []uint32 {
	if len(b) < 4 {
		return nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(&b[0])), len(b)/4)
}

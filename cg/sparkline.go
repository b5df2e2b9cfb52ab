package cg

import (
	"math"
	"strings"
)

// sparkBars are the eight block elements a text sparkline is drawn with, lowest first.
var sparkBars = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws values (oldest first) as a line of block elements scaled between
// their minimum and maximum: "▁▂▃▅▇". Values that are all equal draw a flat middle
// line; a NaN draws a space. No values draw "".
func Sparkline(values []float64) string {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		if math.IsNaN(v) {
			continue
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	var b strings.Builder
	for _, v := range values {
		switch {
		case math.IsNaN(v):
			b.WriteRune(' ')
		case hi == lo:
			b.WriteRune(sparkBars[3])
		default:
			i := int(math.Round((v - lo) / (hi - lo) * float64(len(sparkBars)-1)))
			b.WriteRune(sparkBars[i])
		}
	}
	return b.String()
}

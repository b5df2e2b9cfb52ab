package cg

import (
	"math"
	"testing"
)

func TestSparkline(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want string
	}{
		{nil, ""},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8}, "▁▂▃▄▅▆▇█"},
		{[]float64{-3, -1, -2}, "▁█▅"},
		{[]float64{5, 5, 5}, "▄▄▄"},
		{[]float64{1, math.NaN(), 3}, "▁ █"},
	} {
		if got := Sparkline(c.in); got != c.want {
			t.Errorf("Sparkline(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

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

func TestFigureInConvertsPsAndNsOnly(t *testing.T) {
	ns := Figure{Name: "WNS", Unit: "ns"}
	for _, c := range []struct {
		f    Figure
		want float64
		ok   bool
	}{
		{Figure{Name: "WNS", Value: -50, Unit: "ps"}, -0.05, true},
		{Figure{Name: "WNS", Value: -0.05, Unit: "ns"}, -0.05, true},
		{Figure{Name: "TNS", Value: -1, Unit: "ns"}, 0, false},
		{Figure{Name: "WNS", Value: -1, Unit: "µs"}, 0, false},
	} {
		if got, ok := c.f.In(ns); ok != c.ok || math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%+v.In(ns) = %v, %v; want %v, %v", c.f, got, ok, c.want, c.ok)
		}
	}
	if v, ok := ConvertUnit(-0.05, "ns", "ps"); !ok || math.Abs(v+50) > 1e-9 {
		t.Errorf("ConvertUnit(-0.05, ns, ps) = %v, %v", v, ok)
	}
}

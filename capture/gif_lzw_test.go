package capture

import (
	"bytes"
	"compress/lzw"
	"math/rand/v2"
	"testing"
)

func TestLZWEncode_MatchesTheStandardLibrary(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(4, 2))
	inputs := [][]byte{{}, {7}, {1, 1}, bytes.Repeat([]byte{255}, 1<<20)}
	for _, n := range []int{100, 5000, 70000, 1 << 20} {
		for _, alphabet := range []int{2, 16, 256} {
			b := make([]byte, n)
			for i := range b {
				if i > 0 && rng.IntN(4) != 0 {
					b[i] = b[i-1] // runs, like a dashboard
				} else {
					b[i] = byte(rng.IntN(alphabet))
				}
			}
			inputs = append(inputs, b)
		}
	}
	for i, in := range inputs {
		var want bytes.Buffer
		w := lzw.NewWriter(&want, lzw.LSB, 8)
		_, _ = w.Write(in)
		_ = w.Close()
		if got := lzwEncode(nil, in); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("input %d (%d bytes): %d bytes, compress/lzw gives %d", i, len(in), len(got), want.Len())
		}
	}
}

func lzwInput() []byte {
	rng := rand.New(rand.NewPCG(4, 2))
	b := make([]byte, 2<<20)
	for i := range b {
		if i > 0 && rng.IntN(8) != 0 {
			b[i] = b[i-1]
		} else {
			b[i] = byte(rng.IntN(40))
		}
	}
	return b
}

// BenchmarkLZWStd and BenchmarkLZWOurs compare compress/lzw with lzwEncode on 2 MiB of
// runs.
func BenchmarkLZWStd(b *testing.B) {
	in := lzwInput()
	for b.Loop() {
		var buf bytes.Buffer
		w := lzw.NewWriter(&buf, lzw.LSB, 8)
		_, _ = w.Write(in)
		_ = w.Close()
	}
}
func BenchmarkLZWOurs(b *testing.B) {
	in := lzwInput()
	out := make([]byte, 0, 1<<20)
	for b.Loop() {
		out = lzwEncode(out[:0], in)
	}
}

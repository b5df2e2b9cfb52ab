package capture

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Benchmarks: go test -run '^$' -bench . -benchtime 1x ./capture/
// Each recording is 10 frames 500 ms apart at 1920×1080 on a dashboard-like page: "busy"
// redraws every panel every 500 ms, "numbers" changes only the stat values, and
// "busy-gradients" is busy with bars filled by a gradient over their height (so every bar
// pixel changes with its value: the worst case for frame differencing and for the palette).

var (
	benchOnce    sync.Once
	benchBrowser *Browser
	benchErr     error
)

func benchBrowserFor(b *testing.B) *Browser {
	b.Helper()
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "capture-bench-gifs-")
		if err != nil {
			benchErr = err
			return
		}
		benchBrowser, benchErr = New(Config{Dir: dir}) // 1920×1080, concurrency 2
		if benchErr == nil {
			benchErr = benchBrowser.Check(b.Context()) // warm: start Chromium outside the timings
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchBrowser
}

const benchFrames, benchDelay = 10, 500 * time.Millisecond

func benchRecording(srv *dashboardServer, mode string) Recording {
	params := []string{"mode", mode}
	if m, ok := strings.CutSuffix(mode, "-gradients"); ok {
		params = []string{"mode", m, "bars", "gradient"}
	}
	return Recording{URL: srv.dashboardURL("bench-"+mode, params...), Frames: benchFrames, FrameDelay: benchDelay, KeepFrames: true}
}

func BenchmarkBrowserStart(b *testing.B) {
	for b.Loop() {
		br, err := New(Config{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		if err := br.Check(b.Context()); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = br.Close()
		b.StartTimer()
	}
}

func BenchmarkRecordGIF(b *testing.B) {
	for _, mode := range []string{"busy", "numbers", "busy-gradients"} {
		b.Run(mode, func(b *testing.B) {
			br := benchBrowserFor(b)
			srv := newDashboardServer(b, "")
			var last Result
			var heapPeak, rssPeak, spacingMax, spacingSum, overhead, ready, shot, after float64
			var intervals, runs int
			for b.Loop() {
				stop := sampleMemory()
				res, err := br.RecordGIF(b.Context(), benchRecording(srv, mode))
				heap, rss := stop()
				heapPeak, rssPeak = max(heapPeak, heap), max(rssPeak, rss)
				if err != nil {
					b.Fatal(err)
				}
				last = res
				t := res.Timings
				for i := 1; i < len(t.FrameAt); i++ {
					d := math.Abs(float64(t.FrameAt[i]-t.FrameAt[i-1]-benchDelay)) / float64(benchDelay)
					spacingMax = max(spacingMax, d)
					spacingSum += d
					intervals++
				}
				n := len(t.FrameAt) - 1
				navToGIF := t.PageReady + t.FrameAt[n] + t.PerFrame[n] + t.EncodeAfterLastFrame
				overhead += (navToGIF - t.PageReady - time.Duration(benchFrames-1)*benchDelay).Seconds()
				ready += t.PageReady.Seconds()
				shot += meanDur(t.PerFrame).Seconds()
				after += t.EncodeAfterLastFrame.Seconds()
				runs++
			}
			t := last.Timings
			r := float64(runs)
			b.ReportMetric(ready/r, "page-ready-s")
			b.ReportMetric(shot/r*1000, "ms/screenshot")
			b.ReportMetric(spacingMax*100, "spacing-dev-max-%")
			b.ReportMetric(spacingSum/float64(intervals)*100, "spacing-dev-mean-%")
			b.ReportMetric(after/r, "gif-after-last-shot-s")
			b.ReportMetric(overhead/r, "nav-to-gif-overhead-s")
			b.ReportMetric(float64(last.Bytes), "gif-bytes")
			b.ReportMetric(heapPeak, "heap-peak-MiB")
			b.ReportMetric(rssPeak, "rss-peak-MiB")

			// Offline, on the same screenshots: encoding CPU, fidelity and the baseline.
			frames := decodeAll(b, last.PNGFrames)
			cpu, data := cpuOf(func() []byte { return encodeRGBA(b, frames, false) })
			if testing.Verbose() {
				enc := newGIFEncoder()
				for _, f := range frames {
					_ = enc.add(f, 1920, 1080, benchDelay)
				}
				for i, st := range enc.stats {
					b.Logf("frame %d: rect %v local %v rect PSNR %.1f dB", i, st.Rect, st.Local, psnr(st.MSE))
				}
			}
			_, base := cpuOf(func() []byte { return encodeRGBA(b, frames, true) })
			decCPU, _ := cpuOf(func() []byte { decodeAll(b, last.PNGFrames); return nil })
			b.ReportMetric(cpu.Seconds(), "encode-cpu-s")
			b.ReportMetric(decCPU.Seconds(), "png-decode-cpu-s")
			b.ReportMetric(float64(len(data))/float64(len(base))*100, "%-of-global-nodiff")
			g, composited := decodeGIF(b, data)
			_ = g
			minDB := math.Inf(1)
			for i, p := range last.PNGFrames {
				minDB = min(minDB, psnrOf(composited[i], decodePNG(b, p)))
			}
			b.ReportMetric(minDB, "min-PSNR-dB")
			b.Logf("%s: %d bytes (global palette without differencing: %d), page ready %s, GIF %s after the last screenshot, frames at %v",
				mode, len(data), len(base), t.PageReady.Round(time.Millisecond), t.EncodeAfterLastFrame.Round(time.Millisecond), roundAll(t.FrameAt))
		})
	}
}

// BenchmarkTwoAtOnce reports how much longer two recordings take at once than one alone.
func BenchmarkTwoAtOnce(b *testing.B) {
	br := benchBrowserFor(b)
	srv := newDashboardServer(b, "")
	var ratio float64
	for b.Loop() {
		t0 := time.Now()
		if _, err := br.RecordGIF(b.Context(), benchRecording(srv, "busy")); err != nil {
			b.Fatal(err)
		}
		one := time.Since(t0)
		t0 = time.Now()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Go(func() {
				rec := benchRecording(srv, "busy")
				rec.Name = "bench-two-" + strconv.Itoa(i)
				_, errs[i] = br.RecordGIF(b.Context(), rec)
			})
		}
		wg.Wait()
		two := time.Since(t0)
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		ratio = two.Seconds() / one.Seconds()
		b.Logf("one %s, two at once %s", one.Round(time.Millisecond), two.Round(time.Millisecond))
	}
	b.ReportMetric(ratio, "two/one")
}

func decodeAll(b *testing.B, pngs [][]byte) [][]byte {
	var out [][]byte
	for _, p := range pngs {
		img, err := png.Decode(bytes.NewReader(p))
		if err != nil {
			b.Fatal(err)
		}
		pix, _, _ := rgbaPixels(img)
		out = append(out, pix)
	}
	return out
}

func encodeRGBA(b *testing.B, frames [][]byte, noDiff bool) []byte {
	enc := newGIFEncoder()
	enc.noDiff = noDiff
	for _, f := range frames {
		if err := enc.add(f, 1920, 1080, benchDelay); err != nil {
			b.Fatal(err)
		}
	}
	data, err := enc.bytes()
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// cpuOf returns the process CPU time (user+system) f used; nothing else runs meanwhile.
func cpuOf(f func() []byte) (time.Duration, []byte) {
	var r0, r1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	out := f()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	d := time.Duration(r1.Utime.Nano()-r0.Utime.Nano()) + time.Duration(r1.Stime.Nano()-r0.Stime.Nano())
	return d, out
}

// sampleMemory samples the Go heap (in use, with stacks) and the process's resident memory
// every 20 ms until the returned function is called, which returns both peaks in MiB. Memory
// left from earlier work is returned to the OS first.
func sampleMemory() func() (heap, rss float64) {
	debug.FreeOSMemory()
	done := make(chan struct{})
	type peaks struct{ heap, rss float64 }
	out := make(chan peaks)
	go func() {
		var m runtime.MemStats
		var p peaks
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&m)
			p.heap = max(p.heap, float64(m.HeapInuse+m.StackInuse)/(1<<20))
			p.rss = max(p.rss, residentMiB())
			select {
			case <-done:
				out <- p
				return
			case <-t.C:
			}
		}
	}()
	return func() (float64, float64) {
		close(done)
		p := <-out
		return p.heap, p.rss
	}
}

// residentMiB is the process's resident memory now (VmRSS), in MiB.
func residentMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

func meanDur(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var s time.Duration
	for _, d := range ds {
		s += d
	}
	return s / time.Duration(len(ds))
}

func roundAll(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprint(d.Round(time.Millisecond))
	}
	return strings.Join(parts, " ")
}

// BenchmarkEncodeFrames encodes ten recorded 1080p screenshots (decoded beforehand): the
// encoder alone, for profiling. ns/op is wall time on all cores; cpu-s is CPU time.
func BenchmarkEncodeFrames(b *testing.B) {
	for _, mode := range []string{"busy", "numbers"} {
		b.Run(mode, func(b *testing.B) {
			br := benchBrowserFor(b)
			srv := newDashboardServer(b, "")
			res, err := br.RecordGIF(b.Context(), benchRecording(srv, mode))
			if err != nil {
				b.Fatal(err)
			}
			frames := decodeAll(b, res.PNGFrames)
			var cpu time.Duration
			for b.Loop() {
				d, _ := cpuOf(func() []byte { return encodeRGBA(b, frames, false) })
				cpu += d
			}
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s")
		})
	}
}

// BenchmarkStepSweep records the pipeline's default: one frame per stage (five), each once
// the page is ready at that stage. "in-page" steps the variable in the loaded page as
// Grafana's frontend does; "reload" is a page that ignores that, so every stage after the
// first is loaded again (the only way before in-page steps). s/stage is the mean time from
// asking for a stage to its readiness.
func BenchmarkStepSweep(b *testing.B) {
	for _, mode := range []string{"in-page", "reload"} {
		b.Run(mode, func(b *testing.B) {
			br := benchBrowserFor(b)
			srv := newDashboardServer(b, "")
			var params []string
			if mode == "reload" {
				params = []string{"reload", "1"}
			}
			var last Result
			var perStage float64
			var runs int
			for b.Loop() {
				res, err := br.RecordGIF(b.Context(), Recording{
					URL: srv.dashboardURL("bench-steps", params...), StepVariable: "stage", StepValues: stages, FrameDelay: time.Second,
				})
				if err != nil {
					b.Fatal(err)
				}
				last = res
				perStage += meanDur(res.Timings.StepReady[1:]).Seconds()
				runs++
			}
			b.ReportMetric(perStage/float64(runs), "s/stage")
			b.ReportMetric(last.Timings.PageReady.Seconds(), "first-load-s")
			b.ReportMetric(float64(last.Timings.StepReloads), "reloads")
			b.ReportMetric(last.Timings.EncodeAfterLastFrame.Seconds(), "gif-after-last-shot-s")
			b.ReportMetric(float64(last.Bytes), "gif-bytes")
		})
	}
}

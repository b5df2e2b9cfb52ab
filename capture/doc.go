// Package capture records animated GIFs of Grafana dashboards. It owns one long-lived headless
// Chromium (Debian's system binary, driven through go-rod's launcher and CDP; nothing is ever
// downloaded) that every recording shares, started on first use and restarted when it dies;
// the waiting for a Grafana dashboard to be ready (no requests in flight and Grafana's running
// query count back to zero); the Grafana token, added only to requests for the dashboard's
// origin; the frame loops (a fixed timer, or one frame per value of a dashboard variable); and
// the GIF encoder (a median-cut palette, only the changed rectangle per frame, a size ceiling)
// with the atomic write of the file.
//
// Browser.RecordGIF is the one entry point; Browser.Check is a readiness probe.
package capture

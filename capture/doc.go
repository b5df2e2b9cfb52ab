// Package capture records animated GIFs of Grafana dashboards. It owns one long-lived headless
// Chromium (Debian's system binary, driven through go-rod's launcher and CDP; nothing is ever
// downloaded) that every recording shares, started on first use and restarted when it dies,
// with its sandbox where the kernel allows it (as nobody when the service is root; without it,
// Browser.SandboxWarning says why); each recording's incognito context, whose own proxy lets
// the page reach only the dashboard's origin; the Grafana token, added only to requests for
// that origin; the waiting for a Grafana dashboard to be ready (no requests in flight and
// Grafana's running query count back to zero); the check that the ready page is the expected
// dashboard with every panel drawn and none failing (Expected, *PageError,
// *PanelErrorsError); the frame loops (a fixed timer, or one frame per value of a dashboard
// variable); and the GIF encoder (a median-cut palette, only the changed rectangle per frame,
// a size ceiling) with the atomic write of the file.
//
// Browser.RecordGIF is the one entry point; Browser.Check is a readiness probe.
package capture

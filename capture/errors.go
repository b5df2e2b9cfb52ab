package capture

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrTokenRefused is returned when Grafana sends the page to /login: the token was missing,
// wrong, expired or lacks access to the dashboard's organisation.
var ErrTokenRefused = errors.New("Grafana refused the token (the dashboard page redirected to /login)")

// ErrChromiumMissing is returned when the Chromium binary cannot be found.
var ErrChromiumMissing = errors.New("chromium not found: install Debian's chromium package (apt-get install chromium) or set CHROMIUM_PATH")

// ErrNotReady is wrapped by *NotReadyError, for errors.Is.
var ErrNotReady = errors.New("dashboard not ready")

// NotReadyError says what was still pending when a page did not become ready in time.
type NotReadyError struct {
	URL            string        // the page being loaded
	Waited         time.Duration // how long it was waited for
	Pending        []string      // URLs of the requests still in flight
	RunningQueries int           // window.__grafanaRunningQueryCount at the end, -1 if unknown
	ReadyState     string        // document.readyState at the end
}

func (e *NotReadyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dashboard not ready after %s", e.Waited.Round(time.Millisecond))
	var parts []string
	if n := len(e.Pending); n > 0 {
		list := e.Pending
		if n > 5 {
			list = list[:5]
		}
		s := fmt.Sprintf("%d request(s) in flight: %s", n, strings.Join(list, ", "))
		if n > 5 {
			s += fmt.Sprintf(" and %d more", n-5)
		}
		parts = append(parts, s)
	}
	if e.RunningQueries > 0 {
		parts = append(parts, fmt.Sprintf("%d Grafana queries running", e.RunningQueries))
	}
	if e.ReadyState != "" && e.ReadyState != "complete" {
		parts = append(parts, "document "+e.ReadyState)
	}
	if len(parts) == 0 {
		parts = append(parts, "the page never settled")
	}
	b.WriteString(": ")
	b.WriteString(strings.Join(parts, "; "))
	return b.String()
}

// Unwrap lets errors.Is(err, ErrNotReady) match.
func (e *NotReadyError) Unwrap() error { return ErrNotReady }

// PanelError is a panel that showed an error instead of data.
type PanelError struct {
	Title   string `json:"title"`
	Message string `json:"message"`
}

// PanelErrorsError is returned when panels show errors: a GIF would show error markers
// instead of the run, so none is written (a data source that is down is worth a retry).
// Each panel carries Grafana's message (in Grafana 13.2 the text of its status button's
// tooltip).
type PanelErrorsError struct {
	Panels []PanelError
	Of     int // how many panels the dashboard has
}

func (e *PanelErrorsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d panels show errors", len(e.Panels), max(e.Of, len(e.Panels)))
	for i, p := range e.Panels {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Panels)-3)
			break
		}
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%s%q: %s", sep, p.Title, p.Message)
	}
	return b.String()
}

// ErrWrongPage is wrapped by *PageError, for errors.Is.
var ErrWrongPage = errors.New("the page is not the dashboard")

// PageError says what a page showed instead of the dashboard it should have: Grafana's "not
// found" or error page, a login form, another dashboard, a blank page, panels that never
// rendered or are still loading.
type PageError struct {
	URL       string // the page, without credentials
	Saw       string // what it showed, e.g. "Grafana answered 'Dashboard not found'"
	LoginForm bool   // the page is a login form: it also matches ErrTokenRefused
}

func (e *PageError) Error() string { return "dashboard page " + e.URL + ": " + e.Saw }

// Unwrap lets errors.Is match ErrWrongPage, and ErrTokenRefused for a login form.
func (e *PageError) Unwrap() []error {
	if e.LoginForm {
		return []error{ErrWrongPage, ErrTokenRefused}
	}
	return []error{ErrWrongPage}
}

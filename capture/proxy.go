package capture

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"
)

// originProxy is the HTTP proxy of one recording's browser context: it forwards what goes to
// the dashboard's origin and fails everything else, so the request never reaches the other
// host: a plain HTTP request has its connection closed without an answer (the page sees a
// network error), a CONNECT tunnel (https, wss) is refused with 403. A proxy set on the
// browser context (Target.createBrowserContext proxyServer) sees every request of the
// context, loopback included ("<-loopback>" in the bypass list turns off Chromium's implicit
// direct connection to localhost): documents, subresources, fetch, beacons, workers, frames in
// other processes and WebSocket handshakes, which CDP's Fetch interception does not see.
type originProxy struct {
	origin   string // as grafanaOrigin gives it
	hostPort string // the origin's host:port, the default port written out, for CONNECT
	onRefuse func(target string)

	ln        net.Listener
	srv       *http.Server
	transport *http.Transport
	forward   *httputil.ReverseProxy

	mu      sync.Mutex
	tunnels map[net.Conn]struct{}
}

// startOriginProxy listens on a loopback port for a browser context that may reach only
// origin (in grafanaOrigin's form). onRefuse is called with each refused target.
func startOriginProxy(origin string, onRefuse func(target string)) (*originProxy, error) {
	scheme, host, _ := strings.Cut(origin, "://")
	hostPort := host
	if _, _, err := net.SplitHostPort(host); err != nil {
		port := "80"
		if scheme == "https" {
			port = "443"
		}
		hostPort = net.JoinHostPort(strings.Trim(host, "[]"), port)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &originProxy{origin: origin, hostPort: hostPort, onRefuse: onRefuse, ln: ln, tunnels: map[net.Conn]struct{}{}}
	// Proxy is nil: the proxy itself never goes through another one from the environment.
	p.transport = &http.Transport{DialContext: (&net.Dialer{Timeout: 30 * time.Second}).DialContext, MaxIdleConnsPerHost: 8, IdleConnTimeout: 30 * time.Second}
	p.forward = &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.Out.Host = r.In.Host }, // Out.URL is In's absolute URL
		Transport: p.transport,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
			w.WriteHeader(http.StatusBadGateway) // Grafana unreachable, or the page went away
		},
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// URL is the proxy's address for Target.createBrowserContext.
func (p *originProxy) URL() string { return "http://" + p.ln.Addr().String() }

// Close stops the proxy and cuts its tunnels.
func (p *originProxy) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = p.srv.Shutdown(ctx) // hijacked tunnels are not tracked by the server: closed below
	p.mu.Lock()
	for c := range p.tunnels {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.transport.CloseIdleConnections()
}

func (p *originProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.tunnel(w, r)
		return
	}
	if origin, ok := grafanaOrigin(r.URL.String()); !ok || origin != p.origin {
		p.note(r.URL.Scheme + "://" + r.URL.Host)
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				_ = c.Close() // no answer at all: the request fails in the page
				return
			}
		}
		http.Error(w, "refused", http.StatusForbidden)
		return
	}
	p.forward.ServeHTTP(w, r)
}

// tunnel serves CONNECT (https, wss, and ws through a proxy) to the origin's host:port only.
func (p *originProxy) tunnel(w http.ResponseWriter, r *http.Request) {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil || net.JoinHostPort(strings.ToLower(host), port) != p.hostPort {
		p.note(r.Host)
		http.Error(w, "credential-grafana: the recording browser reaches only "+p.origin, http.StatusForbidden)
		return
	}
	upstream, err := net.DialTimeout("tcp", p.hostPort, 30*time.Second)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		_ = upstream.Close()
		http.Error(w, "tunnel not supported", http.StatusInternalServerError)
		return
	}
	client, buf, err := hj.Hijack()
	if err != nil {
		_ = upstream.Close()
		return
	}
	p.mu.Lock()
	p.tunnels[client], p.tunnels[upstream] = struct{}{}, struct{}{}
	p.mu.Unlock()
	_, _ = client.Write([]byte("HTTP/1.1 200 Connection Established\r\n\r\n"))
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(upstream, buf); done <- struct{}{} }()
	go func() { _, _ = io.Copy(client, upstream); done <- struct{}{} }()
	<-done
	_ = client.Close()
	_ = upstream.Close()
	<-done
	p.mu.Lock()
	delete(p.tunnels, client)
	delete(p.tunnels, upstream)
	p.mu.Unlock()
}

func (p *originProxy) note(target string) {
	if p.onRefuse != nil {
		p.onRefuse(target)
	}
}

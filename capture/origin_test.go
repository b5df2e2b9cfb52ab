package capture

import "testing"

func TestGrafanaOrigin_OneSpellingPerOrigin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url, want string
		ok        bool
	}{
		{"http://LocalHost/d/x", "http://localhost", true},
		{"http://localhost:80/d/x", "http://localhost", true},
		{"https://g:443/d/x?orgId=1", "https://g", true},
		{"HTTPS://G.Example.COM/", "https://g.example.com", true},
		{"http://g:3000/", "http://g:3000", true},
		{"https://g:80/", "https://g:80", true}, // not https's default port
		{"http://g:443/", "http://g:443", true}, // nor http's
		{"http://user:pw@g/", "http://g", true}, // credentials are not the origin
		{"http://[::1]:80/", "http://[::1]", true},
		{"http://[::1]:3000/", "http://[::1]:3000", true},
		{"ws://g/", "", false},
		{"data:text/plain,x", "", false},
		{"/d/x", "", false},
		{"http://", "", false},
	} {
		got, ok := grafanaOrigin(tc.url)
		if got != tc.want || ok != tc.ok {
			t.Errorf("grafanaOrigin(%q) = %q, %v; want %q, %v", tc.url, got, ok, tc.want, tc.ok)
		}
	}
	// The dashboard's origin and a request's are compared in this form.
	a, _ := grafanaOrigin("http://LocalHost:80/d/x")
	b, _ := grafanaOrigin("http://localhost/api/ds/query")
	if a != b {
		t.Errorf("%q and %q are one origin", a, b)
	}
}

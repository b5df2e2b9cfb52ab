package rest_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestDigestsOverRESTAreScopedValidatedAndAllOrNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice, bob := b.env.UniqueUser(t, "rdiga"), b.env.UniqueUser(t, "rdigb")
	var keys []string
	for _, u := range []string{alice, bob} {
		r := b.do(t, "POST", "/api/v1/users", adminToken, `{"username":"`+u+`"}`)
		if r.status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", u, r.status, r.raw)
		}
		keys = append(keys, r.body["api_key"].(string))
	}
	aliceKey := keys[0]
	r := b.do(t, "PUT", "/api/v1/users/"+alice+"/digests", aliceKey, `{"schedule":"weekly mon 09:00","time_zone":"Europe/Berlin"}`)
	if r.status != 200 || r.body["time_zone"] != "Europe/Berlin" || !strings.Contains(r.raw, `"every": "weekly"`) {
		t.Fatalf("put: %d %s", r.status, r.raw)
	}
	before := b.do(t, "GET", "/api/v1/users/"+alice+"/digests", aliceKey, "").raw
	// A bad schedule with a good zone changes neither.
	r = b.do(t, "PUT", "/api/v1/users/"+alice+"/digests", aliceKey, `{"schedule":"daily 25:00","time_zone":"Asia/Tokyo"}`)
	if r.status != http.StatusUnprocessableEntity || r.errorMessage() != "`25:00` is not a time of day: use HH:MM, 00:00–23:59" {
		t.Fatalf("bad schedule: %d %s", r.status, r.raw)
	}
	r = b.do(t, "PUT", "/api/v1/users/"+alice+"/digests", aliceKey, `{"time_zone":"Europe/Berln"}`)
	if r.status != http.StatusUnprocessableEntity || !strings.HasPrefix(r.errorMessage(), "unknown time zone `Europe/Berln`") {
		t.Fatalf("bad zone: %d %s", r.status, r.raw)
	}
	if after := b.do(t, "GET", "/api/v1/users/"+alice+"/digests", aliceKey, "").raw; after != before {
		t.Fatalf("bad input changed the digests:\n%s\n%s", before, after)
	}
	// Alice's key cannot touch bob's digests.
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		body := ""
		if m == "PUT" {
			body = `{"schedule":"daily 09:00"}`
		}
		if r := b.do(t, m, "/api/v1/users/"+bob+"/digests", aliceKey, body); r.status != http.StatusForbidden {
			t.Fatalf("%s bob's digests with alice's key: %d %s", m, r.status, r.raw)
		}
	}
	if r := b.do(t, "DELETE", "/api/v1/users/"+alice+"/digests", aliceKey, ""); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	if r := b.do(t, "GET", "/api/v1/users/"+alice+"/digests", aliceKey, ""); r.status != 200 || !strings.Contains(r.raw, `"digests": []`) {
		t.Fatalf("after delete: %d %s", r.status, r.raw)
	}
}

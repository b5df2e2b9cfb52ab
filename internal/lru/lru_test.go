package lru_test

import (
	"errors"
	"testing"

	"credential-grafana/internal/lru"
)

func TestCacheDropsTheLeastRecentlyUsedBeyondItsSize(t *testing.T) {
	t.Parallel()
	c := lru.New[string, int](2)
	made := 0
	get := func(k string) int {
		v, _ := c.GetOrAdd(k, func() (int, error) { made++; return made, nil })
		return v
	}
	a, b := get("a"), get("b")
	if get("a") != a || made != 2 {
		t.Fatalf("a cached value was made again: made %d", made)
	}
	get("c") // drops b, the least recently used
	if c.Len() != 2 {
		t.Fatalf("len %d, want 2", c.Len())
	}
	if get("a") != a || get("b") == b {
		t.Fatalf("want a kept and b dropped (made again)")
	}
	if _, err := c.GetOrAdd("x", func() (int, error) { return 0, errors.New("boom") }); err == nil || c.Len() != 2 {
		t.Fatalf("a failed create: %v, len %d; want the error and nothing cached", err, c.Len())
	}
}

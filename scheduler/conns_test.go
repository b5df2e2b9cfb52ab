package scheduler

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"credential-grafana/db/dbtest"
)

func TestConnCacheStaysWithinItsBoundAndKeepsAllButOneWarmOnACyclicOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var cfgs []*pgx.ConnConfig
	for range 5 {
		_, url := dbtest.NewDatabase(t)
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		cfgs = append(cfgs, cfg)
	}
	c := newConnCache(3, zerolog.Nop())
	defer c.closeIdle(0)
	for round := range 4 {
		for i, cfg := range cfgs {
			conn, err := c.get(ctx, cfg)
			if err != nil {
				t.Fatalf("round %d database %d: %v", round, i, err)
			}
			if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
				t.Fatal(err)
			}
			c.put(conn, true)
			if st := c.stats(); st.Open > 3 {
				t.Fatalf("%d connections open, bound is 3", st.Open)
			}
		}
	}
	st := c.stats()
	// Every get is a reuse or a connect; after the first round, most-recently-used
	// eviction keeps at least bound-1 databases warm each round (least-recently-used
	// would keep none on this cyclic order).
	if st.Peak != 3 || st.Connects+st.Reused != 20 || st.Reused < 3*2 {
		t.Fatalf("stats %+v, want peak 3, 20 gets, at least 6 reused", st)
	}
	// A broken connection is dropped, not cached.
	conn, err := c.get(ctx, cfgs[0])
	if err != nil {
		t.Fatal(err)
	}
	before := c.stats().Open
	c.put(conn, false)
	if after := c.stats().Open; after != before-1 {
		t.Fatalf("open %d after dropping a broken connection, want %d", after, before-1)
	}
}

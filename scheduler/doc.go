// Package scheduler runs the product's main job: robfig/cron triggers the scan of every
// active user's three databases for new run tables, and each new table goes through a
// durable pipeline (River jobs on the master database): create its Grafana dashboard,
// record its GIF, post it to Slack. Every step's state lives on the table's record in
// the master database, so a restart resumes where it was and a table gets one dashboard
// and one post, even with several replicas. Each process beats in the master database,
// so a dead process's running jobs are taken over within seconds (liveness.go), and a
// stopping one hands its jobs over after Stop's grace. The dashboard step writes each
// run's summary into the run history of its user database, and a post reads the design's
// earlier runs for its trend (history.go); runs recorded before that are backfilled once.
//
// The scheduler orchestrates the db, grafana and capture adapters; Slack it reaches
// only through the Notifier interface declared here, which internal/app fills with the one from
// package bot.
package scheduler

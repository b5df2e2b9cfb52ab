// Package db owns everything PostgreSQL: the master database's pool and its embedded
// migrations; the repositories for users, credentials, dashboards, regression rules and the audit
// log;
// the encryption of secret credential values at rest; the provisioning of each user's
// roles and three databases, and the service's run history in each (history.go); the
// discovery of run tables in them; the pipeline processes' heartbeats, with the taking
// over of a dead process's River jobs; and the advisory locks that let one replica at a
// time migrate, scan or keep house.
//
// The master database's SQL is written by hand here and nowhere else. The queries of
// users' run tables that compute a run's key figures live in scheduler/figures.go, beside
// the figures; the test fakes run SQL of their own.
package db

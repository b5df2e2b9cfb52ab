// Package db owns everything PostgreSQL: the master database's pool and its embedded
// migrations; the repositories for users, credentials, dashboards and the audit log;
// the encryption of secret credential values at rest; the provisioning of each user's
// roles and three databases; the discovery of run tables in them; and the pipeline
// processes' heartbeats, with the taking over of a dead process's River jobs.
//
// SQL is written by hand here and nowhere else.
package db

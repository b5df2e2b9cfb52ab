package main

import (
	"context"

	"credential-grafana/scheduler"
)

// notifier is the Slack notifier the pipeline posts with; nil until the bot lands.
func (m *Main) notifier() scheduler.Notifier { return nil }

// startFrontEnds starts the Slack bot when it is configured and returns its stop.
func (m *Main) startFrontEnds(ctx context.Context) func() { return func() {} }

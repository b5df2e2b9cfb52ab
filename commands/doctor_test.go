package commands_test

import (
	"context"
	"errors"
	"testing"

	"credential-grafana/commands"
	"credential-grafana/commands/commandstest"
)

// TestStatusPointsAdministratorsToDoctorWhenSomethingFails proves status names doctor
// when a component fails, to administrators (who may run it), and only then.
func TestStatusPointsAdministratorsToDoctorWhenSomethingFails(t *testing.T) {
	t.Parallel()
	failing := true
	env := commandstest.New(t, func(c *commands.Config) {
		c.Checks = []commands.HealthCheck{{Name: "grafana", Run: func(context.Context) error {
			if failing {
				return errors.New("connection refused")
			}
			return nil
		}}}
	})
	ctx := context.Background()
	st, err := env.Service.Status(ctx, commands.CLI)
	if err != nil || st.Hint != commands.DoctorHint {
		t.Errorf("admin status with Grafana down: hint %q, %v", st.Hint, err)
	}
	st, err = env.Service.Status(ctx, commands.Actor{Name: "slack:U0NOBODY01", SlackUserID: "U0NOBODY01"})
	if err != nil || st.Hint != "" {
		t.Errorf("a member's status: hint %q, %v (doctor is for administrators)", st.Hint, err)
	}
	failing = false
	if st, err = env.Service.Status(ctx, commands.CLI); err != nil || st.Hint != "" {
		t.Errorf("all well: hint %q, %v", st.Hint, err)
	}
	if _, err := env.Service.Doctor(ctx, commands.Actor{Name: "slack:U0NOBODY01", SlackUserID: "U0NOBODY01"}); err == nil {
		t.Error("a member may run doctor")
	}
}

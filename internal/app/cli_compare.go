package app

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"credential-grafana/commands"
)

// compareUsage is `compare`'s line in the usage text.
const compareUsage = "compare <table> <table>"

// runCompareCommand runs `credential-grafana compare <a> <b>`: two recorded runs side by
// side (commands.CompareRuns), b against a. It reports whether args were its command.
func runCompareCommand(ctx context.Context, m *Main, args cliArgs, out printer) (bool, error) {
	if args.pos[0] != "compare" {
		return false, nil
	}
	if err := need(args, 3, compareUsage+" (qualify a table as user/table or user/KIND/table when its name is ambiguous)"); err != nil {
		return true, err
	}
	c, err := m.Commands.CompareRuns(ctx, commands.CLI, args.pos[1], args.pos[2])
	if err != nil {
		return true, err
	}
	if out.json {
		return true, out.encode(c)
	}
	return true, printComparison(out, c)
}

func printComparison(out printer, c commands.Comparison) error {
	fmt.Fprintf(out.w, "A %s\nB %s\n\n", runSummary(c.A), runSummary(c.B))
	tw := tabwriter.NewWriter(out.w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tA\tB\tB − A\tCHANGE\t")
	for _, f := range c.Figures {
		diff, pct := "", ""
		if f.Difference != nil {
			diff = cliValue(*f.Difference, f.Decimals, f.Unit)
			if *f.Difference > 0 {
				diff = "+" + diff
			}
			if f.Percent != nil {
				pct = strconv.FormatFloat(*f.Percent, 'f', 1, 64) + "% "
			}
			pct += f.Verdict
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", f.Name, cliOptional(f.A, f), cliOptional(f.B, f), diff, pct)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch {
	case c.DashboardURL != "":
		_, err := fmt.Fprintf(out.w, "\ncomparison dashboard: %s\n", c.DashboardURL)
		return err
	case c.DashboardNote != "":
		_, err := fmt.Fprintf(out.w, "\n%s\n", c.DashboardNote)
		return err
	}
	return nil
}

func runSummary(r commands.CompareRun) string {
	parts := []string{r.Ref()}
	for _, p := range []struct{ label, v string }{{"design", r.Design}, {"platform", r.Platform}, {"run", r.RunID}, {"stage", r.Stage}} {
		if p.v != "" {
			parts = append(parts, p.label+" "+p.v)
		}
	}
	return strings.Join(parts, " · ")
}

func cliOptional(v *float64, f commands.FigureChange) string {
	if v == nil {
		return "—"
	}
	return cliValue(*v, f.Decimals, f.Unit)
}

func cliValue(v float64, decimals int, unit string) string {
	if math.IsNaN(v) {
		return "—"
	}
	s := strconv.FormatFloat(v, 'f', max(decimals, 0), 64)
	switch unit {
	case "":
		return s
	case "%":
		return s + "%"
	}
	return s + " " + unit
}

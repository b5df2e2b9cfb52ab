package grafana_test

import (
	"reflect"
	"strings"
	"testing"

	"credential-grafana/cg"
	"credential-grafana/grafana"
)

func cols(spec string) []grafana.Column {
	var out []grafana.Column
	for _, part := range strings.Split(spec, ",") {
		name, typ, _ := strings.Cut(strings.TrimSpace(part), ":")
		out = append(out, grafana.Column{Name: name, DataType: typ})
	}
	return out
}

const timingOK = "id:bigint, run_id:text, design:text, platform:text, stage:text, corner:text, check_type:text, path_group:text, startpoint:text, endpoint:text, arrival:double precision, required:double precision, slack:double precision, logic_depth:integer, time_unit:text"

func TestCheckColumns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		kind      cg.Kind
		cols      string
		ok        bool
		missing   []string
		wrongType []grafana.TypeMismatch
		message   string
		optional  []string
	}{
		{name: "timing full shape", kind: cg.KindTiming, cols: timingOK, ok: true,
			optional: []string{"run_id", "design", "platform", "logic_depth", "time_unit"}, message: "fits the TIMING contract"},
		{name: "timing numeric and varchar types", kind: cg.KindTiming, ok: true,
			cols: "stage:character varying, corner:character(10), check_type:text, path_group:text, startpoint:text, endpoint:text, arrival:numeric, required:real, slack:integer"},
		{name: "timing missing and wrong", kind: cg.KindTiming, ok: false,
			cols:      "stage:integer, corner:text, check_type:text, path_group:text, startpoint:text, arrival:double precision, required:double precision",
			missing:   []string{"endpoint (text)", "slack (number)"},
			wrongType: []grafana.TypeMismatch{{Column: "stage", Got: "integer", Want: grafana.FamilyText}},
			message:   "is missing columns endpoint (text), slack (number); column stage is integer, expected text"},
		{name: "timing only wrong type", kind: cg.KindTiming, ok: false,
			cols:      strings.Replace(timingOK, "slack:double precision", "slack:text", 1),
			wrongType: []grafana.TypeMismatch{{Column: "slack", Got: "text", Want: grafana.FamilyNumber}},
			message:   "does not fit: column slack is text, expected number"},
		{name: "case-sensitive hint", kind: cg.KindTiming, ok: false,
			cols:    strings.Replace(timingOK, "slack:", "Slack:", 1),
			missing: []string{"slack (number)"},
			message: `is missing column slack (number); there is a column "Slack", but column names are case-sensitive`},
		{name: "qor long form", kind: cg.KindQOR, ok: true,
			cols: "run_id:text, design:text, platform:text, stage:text, stage_order:smallint, metric:text, corner:text, qualifier:text, value:double precision, value_text:text, unit:text"},
		{name: "qor stage_order must be integer", kind: cg.KindQOR, ok: false,
			cols:      "stage:text, stage_order:double precision, metric:text, corner:text, qualifier:text, value:double precision",
			wrongType: []grafana.TypeMismatch{{Column: "stage_order", Got: "double precision", Want: grafana.FamilyInteger}}},
		{name: "qor wide form is not long form", kind: cg.KindQOR, ok: false,
			cols:    "stage:text, area:double precision, power:double precision",
			missing: []string{"stage_order (integer)", "metric (text)", "corner (text)", "qualifier (text)", "value (number)"}},
		{name: "drc", kind: cg.KindDRC, ok: true,
			cols: "id:bigint, iteration:integer, rule:text, layer:text, violation_count:integer, x_min:double precision, y_min:double precision, x_max:double precision, y_max:double precision, waived:boolean"},
		{name: "drc optional of wrong type is ignored", kind: cg.KindDRC, ok: true,
			cols: "iteration:bigint, rule:text, layer:text, violation_count:smallint, x_min:real, y_min:real, x_max:real, y_max:real, waived:text"},
		{name: "drc no bbox", kind: cg.KindDRC, ok: false,
			cols:    "iteration:integer, rule:text, layer:text, violation_count:integer",
			missing: []string{"x_min (number)", "y_min (number)", "x_max (number)", "y_max (number)"}},
		{name: "drc jsonb count", kind: cg.KindDRC, ok: false,
			cols:      "iteration:integer, rule:text, layer:text, violation_count:jsonb, x_min:real, y_min:real, x_max:real, y_max:real",
			wrongType: []grafana.TypeMismatch{{Column: "violation_count", Got: "jsonb", Want: grafana.FamilyInteger}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := grafana.CheckColumns(tc.kind, cols(tc.cols))
			if got.OK != tc.ok {
				t.Fatalf("OK = %v (%s), want %v", got.OK, got.Message, tc.ok)
			}
			if !tc.ok && !reflect.DeepEqual(got.Missing, tc.missing) {
				t.Errorf("Missing = %q, want %q", got.Missing, tc.missing)
			}
			if !tc.ok && !reflect.DeepEqual(got.WrongType, tc.wrongType) {
				t.Errorf("WrongType = %+v, want %+v", got.WrongType, tc.wrongType)
			}
			if tc.message != "" && !strings.HasPrefix(got.Message, tc.message) {
				t.Errorf("Message = %q, want it to start with %q", got.Message, tc.message)
			}
			if tc.optional != nil && !reflect.DeepEqual(got.Optional, tc.optional) {
				t.Errorf("Optional = %q, want %q", got.Optional, tc.optional)
			}
		})
	}
}

func TestContractTable(t *testing.T) {
	t.Parallel()
	md := grafana.ContractTable(cg.KindTiming)
	for _, want := range []string{"| `slack` | number | required |", "| `time_unit` | text | optional |", "| column | type family |"} {
		if !strings.Contains(md, want) {
			t.Errorf("contract table lacks %q:\n%s", want, md)
		}
	}
}

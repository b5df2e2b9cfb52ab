package grafana

import (
	"fmt"
	"strings"

	"credential-grafana/cg"
)

// Family is a family of PostgreSQL types a contract column accepts.
type Family string

// The type families.
const (
	FamilyText    Family = "text"    // text, character varying, character, name, citext
	FamilyNumber  Family = "number"  // double precision, real, numeric and the integer types
	FamilyInteger Family = "integer" // smallint, integer, bigint
	FamilyBoolean Family = "boolean" // boolean
)

// ColumnSpec is one column of a run-table contract.
type ColumnSpec struct {
	Name     string
	Family   Family
	Required bool   // the templates' SQL uses it; without it a table is incompatible
	Doc      string // what it holds, for the README
}

// Contract is what a run table of a kind must look like for its dashboard to work.
type Contract struct {
	Kind    cg.Kind
	Summary string
	Columns []ColumnSpec
}

// Run-table contracts. Required columns are the ones the templates' SQL uses; optional
// ones are read by the service when present with the right type (design, platform,
// run_id for the title, time_unit for the unit of slack), and otherwise ignored.
var (
	TimingContract = Contract{
		Kind:    cg.KindTiming,
		Summary: "one row per timing endpoint (its worst path) per stage, corner and check (setup/hold)",
		Columns: []ColumnSpec{
			{"stage", FamilyText, true, "flow stage: floorplan, globalplace, placeopt, detailedplace, cts, globalroute, detailedroute, finish"},
			{"corner", FamilyText, true, "analysis corner, e.g. 'default', 'max_ss_100C_1v60'"},
			{"check_type", FamilyText, true, "'setup' or 'hold'"},
			{"path_group", FamilyText, true, "OpenSTA path group, usually the capture clock"},
			{"startpoint", FamilyText, true, "path start, e.g. 'reg1/CK'"},
			{"endpoint", FamilyText, true, "path end, e.g. '_523_/D'"},
			{"arrival", FamilyNumber, true, "data arrival time"},
			{"required", FamilyNumber, true, "data required time"},
			{"slack", FamilyNumber, true, "required - arrival; below 0 is a violation"},
			{"run_id", FamilyText, false, "flow run id"},
			{"design", FamilyText, false, "design name, e.g. 'gcd'"},
			{"platform", FamilyText, false, "platform, e.g. 'nangate45'"},
			{"launch_clock", FamilyText, false, "launching clock"},
			{"capture_clock", FamilyText, false, "capturing clock"},
			{"logic_depth", FamilyInteger, false, "cells on the path"},
			{"time_unit", FamilyText, false, "'ns' or 'ps'; the unit of arrival, required and slack (default ns)"},
		},
	}
	QORContract = Contract{
		Kind:    cg.KindQOR,
		Summary: "OpenROAD METRICS2.1 in long form: one row per stage, metric, corner and qualifier",
		Columns: []ColumnSpec{
			{"stage", FamilyText, true, "flow stage: synth, floorplan, …, finish"},
			{"stage_order", FamilyInteger, true, "the stage's position in the flow (0..8), for ordering"},
			{"metric", FamilyText, true, "METRICS2.1 name, e.g. 'design__instance__area', 'power__total'"},
			{"corner", FamilyText, true, "corner, '' when the metric has none"},
			{"qualifier", FamilyText, true, "modifier, e.g. 'class:buffer', 'iter:3'; '' when none"},
			{"value", FamilyNumber, true, "numeric value (power in W, area in µm², utilisation as a ratio)"},
			{"unit", FamilyText, false, "unit of value, e.g. 'um^2', 'W'"},
			{"value_text", FamilyText, false, "textual value (runtimes, hashes)"},
			{"run_id", FamilyText, false, "flow run id"},
			{"design", FamilyText, false, "design name"},
			{"platform", FamilyText, false, "platform"},
		},
	}
	DRCContract = Contract{
		Kind:    cg.KindDRC,
		Summary: "one row per violation marker (violation_count 1, bbox set) or per iteration/rule/layer bucket (bbox NULL); a clean check writes one row with violation_count 0",
		Columns: []ColumnSpec{
			{"iteration", FamilyInteger, true, "detailed-route iteration 0..N; -1 = final / sign-off"},
			{"rule", FamilyText, true, "rule, e.g. 'Short', 'Metal Spacing', 'met1.2'"},
			{"layer", FamilyText, true, "layer, e.g. 'metal2'; NULL when not layer specific"},
			{"violation_count", FamilyInteger, true, "violations in the row (1 for a marker)"},
			{"x_min", FamilyNumber, true, "marker bbox in µm (NULL for a bucket)"},
			{"y_min", FamilyNumber, true, "marker bbox in µm"},
			{"x_max", FamilyNumber, true, "marker bbox in µm"},
			{"y_max", FamilyNumber, true, "marker bbox in µm"},
			{"run_id", FamilyText, false, "flow run id"},
			{"design", FamilyText, false, "design name"},
			{"platform", FamilyText, false, "platform"},
			{"tool", FamilyText, false, "'openroad-drt', 'klayout', 'magic'"},
			{"stage", FamilyText, false, "'detailedroute' or 'signoff'"},
			{"rule_description", FamilyText, false, "rule text from the deck"},
			{"sources", FamilyText, false, "nets or instances involved"},
			{"waived", FamilyBoolean, false, "waived marker"},
		},
	}
)

// ContractFor returns the contract of kind (the zero Contract for an unknown kind).
func ContractFor(kind cg.Kind) Contract {
	switch kind {
	case cg.KindTiming:
		return TimingContract
	case cg.KindQOR:
		return QORContract
	case cg.KindDRC:
		return DRCContract
	}
	return Contract{}
}

// Column is a column of a table as information_schema.columns gives it.
type Column struct {
	Name     string // column_name
	DataType string // data_type, e.g. "double precision", "character varying"
}

// TypeMismatch is a column of the wrong type family.
type TypeMismatch struct {
	Column string
	Got    string // the column's data_type
	Want   Family
}

// Compatibility is CheckColumns' verdict.
type Compatibility struct {
	OK        bool
	Missing   []string       // required columns not found, as "name (family)"
	WrongType []TypeMismatch // required columns of another type family
	// Optional lists the optional columns present with the right type family, which
	// the service may read (design, platform, run_id, time_unit…).
	Optional []string
	// Message says, in words a user can act on, why the table does not fit (or that
	// it does). The caller adds the table's name in front: "table x " + Message.
	Message string
}

// FamilyOf returns the family of a PostgreSQL data_type (information_schema or
// format_type spelling), and "" for a type of no family.
func FamilyOf(dataType string) Family {
	t := strings.ToLower(strings.TrimSpace(dataType))
	if i := strings.IndexByte(t, '('); i >= 0 {
		t = strings.TrimSpace(t[:i])
	}
	switch t {
	case "smallint", "integer", "bigint", "int2", "int4", "int8", "int", "smallserial", "serial", "bigserial":
		return FamilyInteger
	case "double precision", "real", "numeric", "decimal", "float4", "float8":
		return FamilyNumber
	case "text", "character varying", "varchar", "character", "char", "bpchar", "name", "citext":
		return FamilyText
	case "boolean", "bool":
		return FamilyBoolean
	}
	return ""
}

func fits(got, want Family) bool {
	return got == want || (want == FamilyNumber && got == FamilyInteger)
}

// CheckColumns says whether a table with these columns fits kind's contract and, when
// it does not, which required columns are missing or of the wrong type family.
func CheckColumns(kind cg.Kind, cols []Column) Compatibility {
	contract := ContractFor(kind)
	if contract.Kind == "" {
		return Compatibility{Message: fmt.Sprintf("has an unknown kind %q: use TIMING, QOR or DRC", kind)}
	}
	byName := make(map[string]Column, len(cols))
	byLower := make(map[string]string, len(cols))
	for _, c := range cols {
		byName[c.Name] = c
		byLower[strings.ToLower(c.Name)] = c.Name
	}
	var res Compatibility
	var hints []string
	for _, spec := range contract.Columns {
		col, ok := byName[spec.Name]
		if !ok {
			if spec.Required {
				res.Missing = append(res.Missing, fmt.Sprintf("%s (%s)", spec.Name, spec.Family))
				if other, ok := byLower[spec.Name]; ok {
					hints = append(hints, fmt.Sprintf("there is a column %q, but column names are case-sensitive: rename it to %s", other, spec.Name))
				}
			}
			continue
		}
		got := FamilyOf(col.DataType)
		if fits(got, spec.Family) {
			if !spec.Required {
				res.Optional = append(res.Optional, spec.Name)
			}
			continue
		}
		if spec.Required {
			res.WrongType = append(res.WrongType, TypeMismatch{Column: spec.Name, Got: col.DataType, Want: spec.Family})
		}
	}
	res.OK = len(res.Missing) == 0 && len(res.WrongType) == 0
	if res.OK {
		res.Message = fmt.Sprintf("fits the %s contract", kind)
		return res
	}
	var parts []string
	if len(res.Missing) == 1 {
		parts = append(parts, "is missing column "+res.Missing[0])
	} else if len(res.Missing) > 1 {
		parts = append(parts, "is missing columns "+strings.Join(res.Missing, ", "))
	}
	for _, m := range res.WrongType {
		parts = append(parts, fmt.Sprintf("column %s is %s, expected %s", m.Column, m.Got, m.Want))
	}
	if len(res.Missing) == 0 {
		parts[0] = "does not fit: " + parts[0]
	}
	parts = append(parts, hints...)
	res.Message = strings.Join(parts, "; ") + fmt.Sprintf(" (a %s table has %s)", kind, contract.Summary)
	return res
}

// ContractTable returns kind's contract as a Markdown table for the README.
func ContractTable(kind cg.Kind) string {
	c := ContractFor(kind)
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s.\n\n", c.Kind, c.Summary)
	b.WriteString("| column | type family | required | meaning |\n|---|---|---|---|\n")
	for _, col := range c.Columns {
		req := "optional"
		if col.Required {
			req = "required"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", col.Name, col.Family, req, strings.ReplaceAll(col.Doc, "|", "\\|"))
	}
	return b.String()
}

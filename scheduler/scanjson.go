package scheduler

import (
	"encoding/json"
	"time"
)

type scanResultFields ScanResult // ScanResult without its JSON methods

// MarshalJSON writes the scan's Duration as "duration_ms", whole milliseconds, as every
// duration the service shows (the README's unit); the other fields as tagged.
func (r ScanResult) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		scanResultFields
		Duration   *struct{} `json:"duration,omitempty"` // hides the nanoseconds
		DurationMS int64     `json:"duration_ms"`
	}{scanResultFields: scanResultFields(r), DurationMS: r.Duration.Milliseconds()})
}

// UnmarshalJSON reads what MarshalJSON writes, and the nanosecond "duration" of scans
// recorded before it.
func (r *ScanResult) UnmarshalJSON(b []byte) error {
	var in struct {
		*scanResultFields
		Duration   *int64 `json:"duration"`
		DurationMS *int64 `json:"duration_ms"`
	}
	in.scanResultFields = (*scanResultFields)(r)
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	switch {
	case in.DurationMS != nil:
		r.Duration = time.Duration(*in.DurationMS) * time.Millisecond
	case in.Duration != nil:
		r.Duration = time.Duration(*in.Duration)
	}
	return nil
}

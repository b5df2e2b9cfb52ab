package grafanatest

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// connect opens a connection with the data source's settings, as Grafana would:
// url "host:port", user, secureJsonData.password, jsonData.database (or the deprecated
// top-level database) and jsonData.sslmode.
func connect(ctx context.Context, ds DataSource) (*pgx.Conn, error) {
	host, port, err := net.SplitHostPort(ds.URL)
	if err != nil {
		host, port = ds.URL, "5432"
	}
	db, _ := ds.JSONData["database"].(string)
	if db == "" {
		db = ds.Database
	}
	sslmode, _ := ds.JSONData["sslmode"].(string)
	if sslmode == "" {
		sslmode = "verify-full"
	}
	dsn := fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=%s sslmode=%s connect_timeout=10",
		dsnQuote(host), dsnQuote(port), dsnQuote(ds.User), dsnQuote(ds.SecureJSONData["password"]), dsnQuote(db), dsnQuote(sslmode))
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("invalid data source settings: %w", err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, err
	}
	return conn, nil
}

func dsnQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

type queryBody struct {
	From    string           `json:"from"`
	To      string           `json:"to"`
	Queries []map[string]any `json:"queries"`
}

type field struct {
	Name     string         `json:"name"`
	Type     string         `json:"type"`
	TypeInfo map[string]any `json:"typeInfo"`
}

// query runs each query's rawSql, as it is sent, against PostgreSQL with its data
// source's settings and answers with Grafana's data frames. A query that fails has
// its error in results[refId].error and makes the whole answer a 400, as Grafana does.
func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	var b queryBody
	if !decode(w, r, &b) {
		return
	}
	if len(b.Queries) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "No queries found", "messageId": "query.noQueries"})
		return
	}
	// The time range the macros expand over (Grafana parses it for every request).
	from, to, rerr := parseRange(b.From, b.To, time.Now())
	if rerr != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "bad request data: " + rerr.Error(), "messageId": "query.badRequest"})
		return
	}
	ctx := r.Context()
	conns := map[string]*pgx.Conn{}
	defer func() {
		for _, c := range conns {
			_ = c.Close(context.Background())
		}
	}()
	results := map[string]any{}
	status := http.StatusOK
	for i, q := range b.Queries {
		ref, _ := q["refId"].(string)
		if ref == "" {
			ref = string(rune('A' + i))
		}
		uid := ""
		if ds, ok := q["datasource"].(map[string]any); ok {
			uid, _ = ds["uid"].(string)
		}
		s.mu.Lock()
		d, ok := s.store(r).dataSources[uid]
		var ds DataSource
		if ok {
			ds = cloneDataSource(d)
		}
		delay := s.queryDelay
		s.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{"message": "Data source not found", "messageId": "datasource.notFound"})
			return
		}
		if s.pluginMissing(w, ds.Type) {
			return
		}
		sql, _ := q["rawSql"].(string)
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return
			}
		}
		s.mu.Lock()
		s.executed = append(s.executed, sql)
		s.mu.Unlock()
		res, err := func() (map[string]any, error) {
			if strings.TrimSpace(sql) == "" {
				return nil, fmt.Errorf("no query")
			}
			expanded, err := expandMacros(sql, from, to)
			if err != nil {
				return nil, err
			}
			sql = expanded
			conn, ok := conns[uid]
			if !ok {
				c, err := connect(ctx, ds)
				if err != nil {
					return nil, err
				}
				conns[uid], conn = c, c
			}
			return runSQL(ctx, conn, ref, sql)
		}()
		if err != nil {
			status = http.StatusBadRequest
			results[ref] = map[string]any{
				"error": "db query error: " + err.Error(), "errorSource": "downstream", "status": http.StatusBadRequest,
				"frames": []any{map[string]any{"schema": map[string]any{"refId": ref, "meta": map[string]any{"typeVersion": []int{0, 0}, "executedQueryString": sql}}, "data": map[string]any{"values": []any{}}}},
			}
			continue
		}
		results[ref] = res
	}
	writeJSON(w, status, map[string]any{"results": results})
}

// runSQL runs one query and returns its result as one data frame.
func runSQL(ctx context.Context, conn *pgx.Conn, ref, sql string) (map[string]any, error) {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	descs := rows.FieldDescriptions()
	fields := make([]field, len(descs))
	values := make([][]any, len(descs))
	for i, d := range descs {
		typ, frame := fieldType(d.DataTypeOID)
		fields[i] = field{Name: d.Name, Type: typ, TypeInfo: map[string]any{"frame": frame, "nullable": true}}
		values[i] = []any{}
	}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		for i, v := range vals {
			values[i] = append(values[i], frameValue(v))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return map[string]any{
		"status": http.StatusOK,
		"frames": []any{map[string]any{
			"schema": map[string]any{"refId": ref, "meta": map[string]any{"typeVersion": []int{0, 0}, "executedQueryString": sql}, "fields": fields},
			"data":   map[string]any{"values": values},
		}},
	}, nil
}

// fieldType maps a PostgreSQL type to Grafana's field type and frame type.
func fieldType(oid uint32) (string, string) {
	switch oid {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		return "number", "int64"
	case pgtype.Float4OID, pgtype.Float8OID, pgtype.NumericOID:
		return "number", "float64"
	case pgtype.BoolOID:
		return "boolean", "bool"
	case pgtype.TimestampOID, pgtype.TimestamptzOID, pgtype.DateOID:
		return "time", "time.Time"
	}
	return "string", "string"
}

// frameValue converts a scanned value to its JSON form in a frame.
func frameValue(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	case float32:
		return finite(float64(x))
	case float64:
		return finite(x)
	case pgtype.Numeric:
		f, err := x.Float64Value()
		if err != nil || !f.Valid {
			return nil
		}
		return finite(f.Float64)
	case bool, string:
		return x
	case time.Time:
		return x.UnixMilli()
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

func finite(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f
}

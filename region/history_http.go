package region

import (
	"errors"
	"fmt"
	"net/http"
)

// historyRoutes serve trends and exports. hist is nil when the instance
// keeps no history (no influxdb block).
type historyRoutes struct {
	r    *Region
	hist *History
}

// trends serves GET /api/v1/trends: 200 with a Trend, 400 naming the bad
// parameter, 404 without history, 502 when InfluxDB fails.
func (h historyRoutes) trends(w http.ResponseWriter, req *http.Request) {
	q, err := ParseTrendQuery(req.URL.RawQuery, h.r.now())
	if err == nil {
		err = h.checkSeries(q)
	}
	if err != nil {
		writeParamError(w, err)
		return
	}
	t, err := h.trend(req, q)
	if err != nil {
		h.queryFailed(w, err)
		return
	}
	writeJSON(w, t)
}

func (h historyRoutes) trend(req *http.Request, q TrendQuery) (*Trend, error) {
	if h.hist == nil {
		return nil, ErrNoHistory
	}
	t, err := h.hist.Query(req.Context(), q)
	if err != nil {
		return nil, err
	}
	v := h.r.View()
	t.name(&v)
	return t, nil
}

// checkSeries bounds the whole answer: a series per hospital times its
// points stays within MaxTrendValues (the registry bounds the hospitals).
func (h historyRoutes) checkSeries(q TrendQuery) error {
	if q.By != ByHospital || q.Hospital != "" {
		return nil
	}
	reg := h.r.keys.Load()
	n := 0
	for _, id := range reg.Hospitals() {
		if hh, _ := reg.Hospital(id); q.District == "" || hh.District == q.District {
			n++
		}
	}
	if v := n * q.Points(); v > MaxTrendValues {
		return paramErr("step", "%d hospitals x %d points = %d values, more than %d: take a longer step, a shorter range or one district", n, q.Points(), v, MaxTrendValues)
	}
	return nil
}

func (h historyRoutes) queryFailed(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrNoHistory) {
		writeJSONStatus(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		return
	}
	h.r.log.Warn("history query", "err", err)
	writeJSONStatus(w, http.StatusBadGateway, map[string]string{"error": "history query failed: " + err.Error()})
}

// export serves GET /api/v1/export: a table of the current view (or a
// trend) as CSV or XLSX, as an attachment.
func (h historyRoutes) export(w http.ResponseWriter, req *http.Request) {
	now := h.r.now()
	q, err := ParseExportQuery(req.URL.RawQuery, now)
	if err != nil {
		writeParamError(w, err)
		return
	}
	var tables []Table
	if q.Table == TableTrend {
		if err := h.checkSeries(q.Trend); err != nil {
			writeParamError(w, err)
			return
		}
		t, err := h.trend(req, q.Trend)
		if err != nil {
			h.queryFailed(w, err)
			return
		}
		tables = append(tables, TrendTable(t))
	} else {
		v := h.r.View()
		switch q.Table {
		case TableDistricts:
			tables = append(tables, DistrictsTable(&v))
		case TableHospitals:
			tables = append(tables, HospitalsTable(&v))
		case TableNotReporting:
			tables = append(tables, NotReportingTable(&v))
		case TableAll:
			tables = append(tables, DistrictsTable(&v), HospitalsTable(&v), NotReportingTable(&v))
		}
	}
	name := fmt.Sprintf("icu-%s-%s-%s.%s", h.r.cfg.Region, q.Table, now.UTC().Format("20060102T1504Z"), q.Format)
	var body []byte
	if q.Format == FormatXLSX {
		if body, err = XLSX(tables...); err != nil {
			h.r.log.Error("export xlsx", "err", err)
			http.Error(w, "export failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	} else {
		body = tables[0].CSV()
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

func writeParamError(w http.ResponseWriter, err error) {
	var pe *ParamError
	if errors.As(err, &pe) {
		writeJSONStatus(w, http.StatusBadRequest, map[string]string{"error": pe.Error(), "param": pe.Param})
		return
	}
	writeJSONStatus(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	writeJSON(w, v)
}

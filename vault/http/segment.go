package http

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/coffre/coffre/vault"
)

// querySegment serves POST /v1/segments/query: a count or a page of the
// contacts that match a filter (or a saved segment) and that the policy
// lets the caller reach.
func (s *Server) querySegment(w http.ResponseWriter, r *http.Request) {
	var q vault.SegmentQuery
	if !s.readInto(w, r, &q) {
		return
	}
	ctx := r.Context()
	res, err := s.svc.QuerySegment(ctx, principalFrom(ctx), purposeFrom(ctx), &q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, res)
}

// exportBody names what to export: a filter or a saved segment.
type exportBody struct {
	Filter  *vault.Filter `json:"filter,omitempty"`
	Segment string        `json:"segment,omitempty"`
}

// exportSegment serves POST /v1/segments/export: the contacts of a filter
// as CSV, streamed, for the purpose declared. An error before the first
// bytes is a problem document; after them the connection is aborted.
func (s *Server) exportSegment(w http.ResponseWriter, r *http.Request) {
	var q exportBody
	if !s.readInto(w, r, &q) {
		return
	}
	if err := unboundedWrite(w); err != nil {
		s.writeError(w, r, fmt.Errorf("http.exportSegment: %w", err))
		return
	}
	ctx := r.Context()
	x := &exportWriter{w: w, contentType: "text/csv; charset=utf-8", filename: "segment.csv"}
	_, err := s.svc.ExportSegment(ctx, principalFrom(ctx), purposeFrom(ctx), &vault.SegmentQuery{Filter: q.Filter, Segment: q.Segment}, x, nil)
	switch {
	case err != nil && !x.started:
		s.writeError(w, r, err)
	case err != nil:
		// The client must see a broken transfer, not a complete-looking
		// file.
		s.log.ErrorContext(ctx, "segment export aborted",
			"request_id", vault.RequestID(ctx), "route", routePattern(r), "error", err.Error())
		panic(http.ErrAbortHandler)
	}
}

// segmentBody is a segment to save.
type segmentBody struct {
	Name   string        `json:"name"`
	Filter *vault.Filter `json:"filter"`
}

// savedSegment is a saved segment as the API shows it.
type savedSegment struct {
	Name      string          `json:"name"`
	Filter    json.RawMessage `json:"filter"`
	Owner     string          `json:"owner"`
	CreatedAt string          `json:"created_at"`
}

func segmentOf(seg *vault.SavedSegment) savedSegment {
	return savedSegment{Name: seg.Name, Filter: json.RawMessage(seg.Filter), Owner: seg.OwnerID, CreatedAt: seg.CreatedAt.Format("2006-01-02T15:04:05.999999Z07:00")}
}

// saveSegment serves POST /v1/segments: 201 with the saved segment.
func (s *Server) saveSegment(w http.ResponseWriter, r *http.Request) {
	var in segmentBody
	if !s.readInto(w, r, &in) {
		return
	}
	ctx := r.Context()
	seg, err := s.svc.SaveSegment(ctx, principalFrom(ctx), purposeFrom(ctx), in.Name, in.Filter)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/segments/"+seg.Name)
	s.writeJSON(w, r, http.StatusCreated, segmentOf(seg))
}

// listSegments serves GET /v1/segments.
func (s *Server) listSegments(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	segs, err := s.svc.Segments(ctx, principalFrom(ctx), purposeFrom(ctx))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := struct {
		Segments []savedSegment `json:"segments"`
	}{Segments: []savedSegment{}}
	for _, seg := range segs {
		out.Segments = append(out.Segments, segmentOf(seg))
	}
	s.writeJSON(w, r, http.StatusOK, out)
}

// deleteSegment serves DELETE /v1/segments/{name}: 204.
func (s *Server) deleteSegment(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := s.svc.DeleteSegment(ctx, principalFrom(ctx), purposeFrom(ctx), chi.URLParam(r, "name")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

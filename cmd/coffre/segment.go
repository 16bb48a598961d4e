package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

// segmentFlags are the flags every coffre segment subcommand takes.
type segmentFlags struct {
	url, token, purpose, filter, filterFile, segment *string
}

func (m *Main) segmentFlagSet(name, synopsis string) (*flagSet, *segmentFlags) {
	fl := m.newFlagSet(name, synopsis)
	return fl, &segmentFlags{
		url:        fl.String("url", "http://127.0.0.1:8080", "base URL of the running server"),
		token:      fl.String("token", "", "bearer token (default $"+EnvToken+")"),
		purpose:    fl.String("purpose", "", "purpose of the query, sent as Coffre-Purpose (required)"),
		filter:     fl.String("filter", "", `filter as JSON, e.g. '{"and": [{"field": "district", "in": ["d3"]}, {"consent": "newsletter"}]}'`),
		filterFile: fl.String("filter-file", "", "file holding the filter as JSON"),
		segment:    fl.String("segment", "", "run a saved segment instead of a filter"),
	}
}

// segmentClient checks the segment flags and returns an API client.
func (m *Main) segmentClient(name string, f *segmentFlags) (*apiClient, error) {
	if *f.purpose == "" {
		return nil, usagef("%s: --purpose is required: say what the segment is for (e.g. newsletter)", name)
	}
	return m.newAPIClient(name, *f.url, *f.token, *f.purpose)
}

// filter reads the filter of the flags: a JSON value, or nil for a saved
// segment.
func (f *segmentFlags) filterValue(name string, required bool) (json.RawMessage, error) {
	given := 0
	for _, s := range []string{*f.filter, *f.filterFile, *f.segment} {
		if s != "" {
			given++
		}
	}
	if given > 1 || (required && given == 0) {
		return nil, usagef("%s: give one of --filter, --filter-file or --segment", name)
	}
	raw := []byte(*f.filter)
	if *f.filterFile != "" {
		b, err := os.ReadFile(*f.filterFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		raw = b
	}
	if len(raw) == 0 {
		return nil, nil
	}
	if !json.Valid(raw) {
		return nil, usagef("%s: the filter is not valid JSON", name)
	}
	return json.RawMessage(raw), nil
}

// runSegment implements coffre segment: query, export, save, list, delete,
// against a running server.
func (m *Main) runSegment(ctx context.Context, args []string) error {
	usage := `Usage:
  coffre segment count  --purpose P (--filter JSON | --filter-file F | --segment NAME) [--url U] [--token T]
  coffre segment list   --purpose P (--filter … | --segment NAME) [--limit 50] [--all]
  coffre segment export --purpose P (--filter … | --segment NAME) [-o FILE]
  coffre segment save   --purpose P --name NAME (--filter … | --filter-file F)
  coffre segment saved  --purpose P
  coffre segment delete --purpose P --name NAME`
	if len(args) == 0 {
		fmt.Fprintln(m.Stderr, usage)
		return usagef("segment: name a subcommand: count, list, export, save, saved or delete")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(m.Stderr, usage)
		return nil
	case "count", "list":
		return m.segmentQuery(ctx, sub, args)
	case "export":
		return m.segmentExport(ctx, args)
	case "save", "saved", "delete":
		return m.segmentSaved(ctx, sub, args)
	}
	return usagef("segment: unknown subcommand %q (see coffre segment help)", sub)
}

func (m *Main) segmentQuery(ctx context.Context, sub string, args []string) error {
	name := "segment " + sub
	fl, f := m.segmentFlagSet(name, sub+" --purpose P (--filter JSON | --filter-file F | --segment NAME)")
	limit := fl.Int("limit", 50, "contacts per page (list)")
	all := fl.Bool("all", false, "follow the pages to the end (list)")
	if err := fl.parse(args); err != nil {
		return err
	}
	c, err := m.segmentClient(name, f)
	if err != nil {
		return err
	}
	filter, err := f.filterValue(name, true)
	if err != nil {
		return err
	}
	body := map[string]any{"answer": sub}
	if filter != nil {
		body["filter"] = filter
	} else {
		body["segment"] = *f.segment
	}
	if sub == "list" {
		body["limit"] = *limit
	}
	enc := json.NewEncoder(m.Stdout)
	for pages := 0; ; pages++ {
		resp, err := c.do(ctx, "POST", "/v1/segments/query", body)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		var res struct {
			Count      any               `json:"count"`
			Contacts   []json.RawMessage `json:"contacts"`
			NextCursor string            `json:"next_cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("%s: reading the answer: %w", name, err)
		}
		if sub == "count" {
			fmt.Fprintln(m.Stdout, res.Count)
			return nil
		}
		for _, ct := range res.Contacts {
			enc.Encode(ct) // one JSON contact per line
		}
		if !*all || res.NextCursor == "" {
			if res.NextCursor != "" {
				fmt.Fprintf(m.Stderr, "coffre: more contacts follow: --all lists them all\n")
			}
			return nil
		}
		body["cursor"] = res.NextCursor
	}
}

func (m *Main) segmentExport(ctx context.Context, args []string) error {
	name := "segment export"
	fl, f := m.segmentFlagSet(name, "export --purpose P (--filter JSON | --filter-file F | --segment NAME) [-o FILE]")
	out := fl.String("o", "", "write the CSV to this file, which must not exist (default: standard output)")
	if err := fl.parse(args); err != nil {
		return err
	}
	c, err := m.segmentClient(name, f)
	if err != nil {
		return err
	}
	filter, err := f.filterValue(name, true)
	if err != nil {
		return err
	}
	body := map[string]any{}
	if filter != nil {
		body["filter"] = filter
	} else {
		body["segment"] = *f.segment
	}
	w := m.Stdout
	if *out != "" {
		file, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("%s: %w (an export never overwrites a file)", name, err)
		}
		defer file.Close()
		w = file
	}
	resp, err := c.do(ctx, "POST", "/v1/segments/export", body)
	if err != nil {
		if *out != "" {
			os.Remove(*out)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	defer resp.Body.Close()
	pw := &progressWriter{w: w, m: m, every: time.Second}
	if _, err := io.Copy(pw, resp.Body); err != nil {
		return fmt.Errorf("%s: the transfer broke off after %d rows: the file is incomplete: %w", name, pw.rows, err)
	}
	rows := max(pw.rows-1, 0) // the header
	fmt.Fprintf(m.Stderr, "coffre: exported %d contacts\n", rows)
	return nil
}

// progressWriter counts CSV lines and tells the user, at most once per
// interval, how many went by.
type progressWriter struct {
	w     io.Writer
	m     *Main
	rows  int
	every time.Duration
	last  time.Time
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.rows += bytes.Count(b, []byte{'\n'})
	if now := time.Now(); now.Sub(p.last) >= p.every {
		if !p.last.IsZero() {
			fmt.Fprintf(p.m.Stderr, "coffre: %d rows…\n", p.rows)
		}
		p.last = now
	}
	return p.w.Write(b)
}

func (m *Main) segmentSaved(ctx context.Context, sub string, args []string) error {
	name := "segment " + sub
	fl, f := m.segmentFlagSet(name, sub+" --purpose P [--name NAME] [--filter JSON | --filter-file F]")
	segName := fl.String("name", "", "name of the saved segment (save, delete)")
	if err := fl.parse(args); err != nil {
		return err
	}
	c, err := m.segmentClient(name, f)
	if err != nil {
		return err
	}
	var resp *http.Response
	switch sub {
	case "save":
		filter, ferr := f.filterValue(name, true)
		if ferr != nil {
			return ferr
		}
		if *segName == "" || filter == nil {
			return usagef("%s: --name and a filter are required", name)
		}
		resp, err = c.do(ctx, "POST", "/v1/segments", map[string]any{"name": *segName, "filter": filter})
	case "saved":
		resp, err = c.do(ctx, "GET", "/v1/segments", nil)
	case "delete":
		if *segName == "" {
			return usagef("%s: --name is required", name)
		}
		resp, err = c.do(ctx, "DELETE", "/v1/segments/"+url.PathEscape(*segName), nil)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer resp.Body.Close()
	_, err = io.Copy(m.Stdout, resp.Body)
	return err
}

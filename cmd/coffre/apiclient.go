package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// apiClient calls a running server's API for the commands that work
// through it (segment, request).
type apiClient struct {
	base, token, purpose string
	http                 *http.Client
}

// newAPIClient checks the base URL and the token (default $COFFRE_TOKEN)
// of command name and returns a client that declares purpose. Its HTTP
// client has no overall timeout: an export streams as long as it needs.
func (m *Main) newAPIClient(name, base, token, purpose string) (*apiClient, error) {
	if token == "" {
		token = m.Getenv(EnvToken)
	}
	if token == "" {
		return nil, usagef("%s: --token (or $%s) is required", name, EnvToken)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("%s: --url must be http(s)://host:port", name)
	}
	return &apiClient{base: strings.TrimSuffix(base, "/"), token: token, purpose: purpose, http: &http.Client{}}, nil
}

// do sends one request; a status of 400 or more becomes an error with the
// problem's detail and field errors, which never hold personal data.
func (c *apiClient) do(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Coffre-Purpose", c.purpose)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the server: %w", err)
	}
	if resp.StatusCode < 400 {
		return resp, nil
	}
	defer resp.Body.Close()
	var p struct {
		Detail string `json:"detail"`
		Errors []struct {
			Field, Reason string
		} `json:"errors"`
	}
	json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&p)
	msg := fmt.Sprintf("the server answered %s", resp.Status)
	if p.Detail != "" {
		msg += ": " + p.Detail
	}
	for _, e := range p.Errors {
		msg += fmt.Sprintf(" (%s %s)", e.Field, e.Reason)
	}
	return nil, fmt.Errorf("%s", msg)
}

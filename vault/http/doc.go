// Package http serves Coffre's JSON API over a vault.Service.
//
// Routes (described in full by the OpenAPI 3.1 document at /openapi.json):
//
//	POST   /v1/contacts          create a contact (201, Location header)
//	GET    /v1/contacts/{id}     read a contact as the caller may see it
//	PATCH  /v1/contacts/{id}     change fields and consents; null removes a field
//	DELETE /v1/contacts/{id}     erase a contact (crypto-shredding, 204)
//	POST   /v1/contacts/search   blind-index lookup by {"email"} or {"phone"}
//	POST   /v1/tokens            create an API token, shown once (201)
//	GET    /v1/audit/entries     audit entries of the tenant, filtered, paginated
//	GET    /v1/audit/checkpoint  a fresh signed checkpoint (C2SP signed note, text/plain)
//	GET    /v1/audit/proof/inclusion    ?index=&size=: RFC 6962 inclusion proof
//	GET    /v1/audit/proof/consistency  ?from=&to=: RFC 6962 consistency proof
//	GET    /v1/audit/export      the tenant's view of the log (JSON Lines, streamed)
//	GET    /healthz              liveness, no authentication
//	GET    /readyz               readiness: the store answers (503 when not)
//	GET    /openapi.json         the API description, no authentication
//
// Every /v1 route needs "Authorization: Bearer <token>". The purpose of a
// call travels in the Coffre-Purpose header; when present it must be one of
// the schema's purposes. Personal data only ever travels in request and
// response bodies, never in a URL, so proxies and access logs do not keep
// it.
//
// The audit routes are for the dpo role; an admin reads metadata only
// (entries without subject, fields or purpose; checkpoints and proofs, not
// the export). Their query parameters are checked strictly: an unknown or
// repeated parameter, or a bad value, is a 400 naming the parameter, never
// the value. The subject filter is a contact id, the pseudonym the log
// keeps, never a name or an address. An export is streamed as the log is
// read: an error before its first byte is a problem document, an error
// after it aborts the connection, so a client never takes a cut export for
// a whole one (and coffre audit verify would name what is missing anyway).
//
// Errors are RFC 9457 problem documents (application/problem+json):
//
//	{"type": "https://coffre.dev/problems/invalid", "title": "Invalid request",
//	 "status": 400, "detail": "Invalid contact.", "code": "invalid",
//	 "errors": [{"field": "email", "reason": "is not a valid email address"}],
//	 "request_id": "…"}
//
// The type is https://coffre.dev/problems/ followed by the code; code is one
// of the vault error codes (invalid 400, unauthorized 401, forbidden 403,
// not_found 404, conflict 409, too_large 413, internal 500, unavailable
// 503) or one of the two codes of this package, method_not_allowed (405)
// and unsupported_media_type (415). Bad input is 400, not 422: the API
// does not tell syntactically wrong bodies from semantically wrong ones,
// and one status lets clients handle both alike. A detail never holds
// personal data nor a submitted value: messages about bad JSON are written
// from the error's position and the expected type, never from the
// decoder's own text. Internal errors go to the operator log with the
// request id; the caller only gets a generic detail and that id.
//
// Every response carries an X-Request-Id: the client's own when it is 16
// to 64 letters, digits, '-' or '_', a random one otherwise. The access log
// (log/slog) names the method, the route pattern (never the raw path or
// query), the status, the bytes written, the duration, the request id and
// the token id — never bodies nor headers.
package http

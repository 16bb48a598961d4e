package http_test

import (
	"fmt"
	"io"
	"net/http/httptest"

	"github.com/coffre/coffre/vault"
	vhttp "github.com/coffre/coffre/vault/http"
	"github.com/coffre/coffre/vault/mock"
)

// A request without a token gets a problem document; its request id is
// the client's own X-Request-Id.
func ExampleServer_Handler() {
	schema := vault.DefaultSchema()
	svc := vault.NewService(mock.NewStore(), mock.KeyRing{}, &vault.RoleAuthorizer{Schema: schema}, schema)
	srv := vhttp.NewServer(svc, vhttp.Options{})

	req := httptest.NewRequest("GET", "/v1/contacts/0195f1a4-6b1e-7c3d-8e2f-9a0b1c2d3e4f", nil)
	req.Header.Set("X-Request-Id", "example-request-0001")
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)

	body, _ := io.ReadAll(rec.Body)
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("WWW-Authenticate"))
	fmt.Print(string(body))
	// Output:
	// 401 application/problem+json Bearer realm="coffre"
	// {"type":"https://coffre.dev/problems/unauthorized","title":"Authentication required","status":401,"detail":"This route needs an API token: send the header Authorization: Bearer <token>.","code":"unauthorized","errors":[],"request_id":"example-request-0001"}
}
